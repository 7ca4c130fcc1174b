#!/usr/bin/env python3
"""Writes jinja_cases.jsonl: templates rendered by jinja2 itself in transformers' chat-template environment.

Run from anywhere: python3 tests/template/gen_expectations.py. Each line is {"name", "template", "vars", and either
"rendered" or "error"}; test_template renders every case with our interpreter and compares byte for byte.
"""
import json
import os

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def make_env():
    # Mirrors transformers.utils.chat_template_utils._compile_jinja_template.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi  there\n"},
    {"role": "assistant", "content": " Hello! "},
    {"role": "user", "content": "ünïcödé 😀 \"quotes\" 'single'"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Zürich"]},
                                                          "days": {"type": "integer", "minimum": 1.5}},
                         "required": ["city"]}}}]

CASES = {
    # literals and printing
    "int_float_str": ("{{ 1 }} {{ 1.5 }} {{ 1.0 }} {{ 1e20 }} {{ 1e-7 }} {{ 0.1 + 0.2 }} {{ 'a' }} {{ \"b\" }}", {}),
    "none_bool": ("{{ none }} {{ None }} {{ true }} {{ True }} {{ false }}", {}),
    "list_repr": ("{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }}", {}),
    "tuple_repr": ("{{ (1,) }} {{ (1, 2) }} {{ () }}", {}),
    "dict_repr": ("{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }}", {}),
    "string_repr_quotes": ("{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'nl\\n\\ttab\\\\'] }}", {}),
    "string_escapes": ("{{ 'a\\nb\\tc\\u00e9\\x41\\\\' }}", {}),
    "adjacent_strings": ("{{ 'a' 'b' \"c\" }}", {}),
    "undefined_prints_empty": ("[{{ missing }}][{{ missing is defined }}]", {}),
    "json_vars_repr": ("{{ messages[1] }}", {"messages": MSGS}),
    # whitespace control
    "trim_blocks": ("{% if true %}\nyes\n{% endif %}\nend", {}),
    "lstrip_blocks": ("  {% if true %}\n    x\n  {% endif %}\n", {}),
    "lstrip_not_vars": ("  {{ 'v' }}\n  {% if true %}z{% endif %}", {}),
    "dash_strip": ("a  \n  {%- if true -%}  \n  b  {%- endif %}  \n c", {}),
    "plus_disables": ("  {%+ if true +%}\nx{% endif %}", {}),
    "var_dash": ("a   {{- 'b' -}}   c", {}),
    "comment_trim": ("a\n  {# comment #}\nb {#- c -#}  c", {}),
    "trailing_newline_dropped": ("x\n", {}),
    "crlf_normalized": ("a\r\nb\rc\n", {}),
    "raw_whitespace": ("a\n  {% raw %}\n{{ x }}\n  {% endraw %}\nb {% raw -%}  y  {%- endraw %} c", {}),
    "whitespace_mix": ("{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}\n\t{% if true %}\tT{% endif %}\n{#- c #}\n  {{- 'z' }} {#+ keep +#}\nend", {}),
    "unicode_whitespace_trim": ("{{ '\u3000\xa0 x \u2003\n'|trim }}|{{ ' a\u00a0b '.split() }}", {}),
    "raw_block": ("{% raw %}{{ not evaluated }}{% endraw %}", {}),
    "lstrip_mid_line": ("x {% if true %}y{% endif %}\n  {% if true %}z{% endif %}", {}),
    # if / for
    "if_elif_else": ("{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %},{% endfor %}", {}),
    "for_loop_vars": ("{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.revindex0 }}"
                      "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    "for_prev_next": ("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    "for_else": ("{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    "for_filter_cond": ("{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }} {% endfor %}", {}),
    "for_dict": ("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    "for_items_unpack": ("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    "for_break_continue": ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    "for_cycle": ("{% for x in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    "loop_scope": ("{% set x = 5 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}", {}),
    "nested_loops": ("{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    "for_over_undefined": ("{% for x in missing %}x{% else %}none{% endfor %}", {}),
    # set / namespace / with
    "set_tuple": ("{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    "set_block": ("{% set body %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ body }}]", {}),
    "set_block_filter": ("{% set body | upper %}abc{% endset %}{{ body }}", {}),
    "namespace": ("{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    "with_block": ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    # macro / call / filter block
    "macro": ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }}", {}),
    "macro_sees_globals": ("{% macro m(a) %}{{ a }}{{ y }}{% endmacro %}{% set y = 3 %}{{ m(1) }}", {}),
    "macro_varargs": ("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}),
    "call_block": ("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    "call_block_args": ("{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    "filter_block": ("{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    "filter_block_args": ("{% filter indent(2, true) %}a\nb{% endfilter %}", {}),
    # operators
    "arithmetic": ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    "precedence": ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 1 - 2 - 3 }} {{ 'a' ~ (1 + 2) }} {{ 1 + 2 ~ 'a' }} {{ -1|abs }}", {}),
    "concat": ("{{ 'a' ~ 1 ~ none ~ missing ~ [1] }}", {}),
    "string_ops": ("{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ [0] * 3 }} {{ 3 * 'x' }}", {}),
    "comparisons": ("{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] < [1, 3] }}", {}),
    "in_operator": ("{{ 'a' in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in missing }}", {}),
    "logic": ("{{ 1 and 'x' }} {{ 0 and 'x' }} {{ 0 or 'y' }} {{ '' or [] }} {{ not 0 }} {{ not 'a' }} {{ none or 'd' }}", {}),
    "conditional_expr": ("{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}]", {}),
    "slicing": ("{{ [1, 2, 3, 4][1:3] }} {{ [1, 2, 3][::-1] }} {{ 'hello'[::-1] }} {{ 'hello'[1:] }} {{ 'hello'[:-1] }} {{ [1, 2, 3, 4, 5][::2] }} {{ 'héllo'[1] }} {{ [1, 2, 3][-1] }} {{ 'abc'[5:] }} {{ (1, 2, 3)[1:] }}", {}),
    "subscript_attr": ("{{ d.a }} {{ d['a'] }} {{ d.b.c }} {{ l.0 }} {{ l[1] }} {{ d.items is defined }}", {"d": {"a": 1, "b": {"c": 2}}, "l": [5, 6]}),
    "unicode_length": ("{{ 'héllo😀'|length }} {{ 'héllo😀'|reverse }} {{ 'héllo'|upper }}", {}),
    # tests
    "tests_types": ("{{ 1 is number }} {{ 1.5 is number }} {{ 'a' is string }} {{ none is none }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ false is false }} {{ 1 is true }}", {}),
    "tests_defined": ("{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ x is not defined }} {{ x is none }}", {"x": None}),
    "tests_numbers": ("{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is integer }} {{ 1.0 is float }}", {}),
    "tests_compare": ("{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 2 is gt 1 }} {{ 1 is lt 2 }} {{ 'a' is in 'abc' }} {{ 'abc' is lower }} {{ 'ABC' is upper }}", {}),
    "is_not_precedence": ("{{ not x is defined }} {{ x is defined and x }}", {"x": 1}),
    # filters
    "filter_strings": ("{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello big-world (x)'|title }}|{{ 'hELLO wORLD'|capitalize }}", {}),
    "filter_length_count": ("{{ [1, 2]|length }} {{ 'abc'|count }} {{ {'a': 1}|length }} {{ missing|length }}", {}),
    "filter_first_last": ("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ []|first }}]", {}),
    "filter_join": ("{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ users|join(', ', attribute='name') }}", {"users": [{"name": "a"}, {"name": "b"}]}),
    "filter_replace": ("{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'ab'|replace('', '-') }}", {}),
    "filter_default": ("{{ missing|default('d') }} {{ missing|d('x') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|default('n') }} [{{ missing|default }}]", {}),
    "filter_tojson": ("{{ tools|tojson }}\n{{ tools|tojson(indent=2) }}\n{{ {'b': 1, 'a': [1, 2.5, none, true]}|tojson(indent=4) }}\n{{ 'é\"\\n\\u0001'|tojson }} {{ []|tojson(indent=2) }} {{ {}|tojson }}", {"tools": TOOLS}),
    "filter_tojson_sort": ("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ 1.0|tojson }} {{ 1e100|tojson }}", {}),
    "filter_items_dictsort": ("{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(by='value') }} {{ d|dictsort(reverse=true) }} {{ {'B': 1, 'a': 2}|dictsort }} {{ {'B': 1, 'a': 2}|dictsort(true) }}", {"d": {"b": 2, "a": 3, "c": 1}}),
    "filter_selectattr": ("{{ users|selectattr('active')|map(attribute='name')|list }} {{ users|rejectattr('active')|map(attribute='name')|join(',') }} {{ users|selectattr('name', 'equalto', 'b')|list }} {{ users|selectattr('age', 'gt', 20)|map(attribute='name')|list }}", {"users": [{"name": "a", "active": True, "age": 30}, {"name": "b", "active": False, "age": 10}]}),
    "filter_map": ("{{ ['a', 'b']|map('upper')|list }} {{ users|map(attribute='x', default='?')|list }} {{ [1, 2]|map('string')|join('-') }}", {"users": [{"x": 1}, {}]}),
    "filter_select_reject": ("{{ range(10)|select('odd')|list }} {{ range(10)|reject('even')|list }} {{ [0, 1, '', 'a']|select|list }}", {}),
    "filter_list_string": ("{{ 'abc'|list }} {{ (1, 2)|list }} {{ 12|string ~ 'x' }} {{ [1]|string }}", {}),
    "filter_int_float": ("{{ '42'|int }} {{ ' 7 '|int }} {{ '3.9'|int }} {{ 'x'|int }} {{ 'x'|int(5) }} {{ 3.9|int }} {{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ '0x1A'|int(0, 16) }} {{ true|int }}", {}),
    "filter_abs_round": ("{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }} {{ 3|round }} {{ 1.23456|round(3) }}", {}),
    "filter_unique_sort": ("{{ [3, 1, 2, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} {{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ users|sort(attribute='n')|map(attribute='n')|list }}", {"users": [{"n": 2}, {"n": 1}]}),
    "filter_reverse_sum": ("{{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }} {{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum }} {{ users|sum(attribute='n') }} {{ [1, 2]|sum(start=10) }}", {"users": [{"n": 2}, {"n": 1}]}),
    "filter_safe_escape": ("{{ '<b>'|safe }} {{ '<a href=\"x\">&\\''|e }} {{ '<'|escape }}", {}),
    "filter_indent": ("{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('--') }}", {}),
    "filter_wordcount_batch": ("{{ 'Hello, wörld! foo_bar 42'|wordcount }} {{ range(5)|batch(2)|list }} {{ range(5)|batch(2, 'x')|list }}", {}),
    "filter_max_min": ("{{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ ['a', 'B']|max }}", {}),
    "filter_format": ("{{ '%s is %d years, %.2f%%'|format('Bob', 42, 3.14159) }} {{ '%05d|%-4s|%x'|format(42, 'ab', 255) }} {{ '%(a)s'|format(a=1) }}", {}),
    "filter_center": ("[{{ 'ab'|center(7) }}]", {}),
    "filter_chain": ("{{ messages|map(attribute='role')|unique|list|length }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }}", {"messages": MSGS}),
    # string methods
    "str_methods": ("{{ 'hello'.startswith('he') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.endswith('lo') }} {{ '  a  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|{{ '\\n\\na\\n'.lstrip('\\n') }}", {}),
    "str_split": ("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }}", {}),
    "str_misc": ("{{ 'aXa'.replace('a', 'b') }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'banana'.count('a') }} {{ 'banana'.find('n') }} {{ '-'.join(['a', 'b']) }} {{ '123'.isdigit() }}", {}),
    "str_format_method": ("{{ '{} and {}'.format('a', 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='n') }} {{ '{{literal}}'.format() }} {{ '{:>5}|{:<4}|{:.2f}'.format('r', 'l', 3.14159) }}", {}),
    # dict methods
    "dict_methods": ("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'def') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}", {"d": {"a": 1, "b": 2}}),
    "dict_literal_and_func": ("{{ dict(a=1, b='x') }} {{ {'k': [1, 2]}['k'][1] }}", {}),
    # globals and errors
    "range_forms": ("{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }}", {}),
    "raise_exception": ("{% if true %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}", {}),
    "error_undefined_attr": ("{{ missing.attr }}", {}),
    "error_add_str_int": ("{{ 'a' + 1 }}", {}),
    "error_div_zero": ("{{ 1 // 0 }}", {}),
    "error_unsafe_append": ("{{ [1].append(2) }}", {}),
    "error_none_iter": ("{% for x in none %}{% endfor %}", {}),
    "error_unknown_filter": ("{{ 1|nosuchfilter }}", {}),
    # realistic fragments
    "content_parts": ("{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% endif %}{% endfor %}{% endif %}|{% endfor %}",
                      {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "describe"}]}, {"role": "assistant", "content": "ok"}]}),
    "tool_call_args": ("{% for tc in m.tool_calls %}{% if tc.function.arguments is string %}{{ tc.function.arguments }}{% else %}{{ tc.function.arguments|tojson }}{% endif %}{% endfor %}",
                       {"m": {"tool_calls": [{"function": {"name": "f", "arguments": {"city": "Zürich", "n": 2, "f": 0.5}}}, {"function": {"name": "g", "arguments": "{\"x\": 1}"}}]}}),
    "qwen_like_system": ("{%- if messages[0].role == 'system' %}\n    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message.role == 'user' %}\n        {{- '<|im_start|>user\\n' + message.content + '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n",
                         {"messages": MSGS, "add_generation_prompt": True}),
    "indented_blocks": ("<s>\n{% for m in messages %}\n    {% if m.role == 'user' %}\n        [INST] {{ m.content }} [/INST]\n    {% else %}\n        {{ m.content }}\n    {% endif %}\n{% endfor %}\n</s>\n", {"messages": MSGS}),
}


def main():
    env = make_env()
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jinja_cases.jsonl")
    with open(out_path, "w", encoding="utf-8") as f:
        for name, (template, variables) in CASES.items():
            case = {"name": name, "template": template, "vars": variables}
            try:
                case["rendered"] = env.from_string(template).render(**variables)
            except jinja2.exceptions.TemplateError as e:
                case["error"] = f"{type(e).__name__}: {e}"
            except Exception as e:  # noqa: BLE001 - Python errors (TypeError, ZeroDivisionError) count as failures too
                case["error"] = f"{type(e).__name__}: {e}"
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"wrote {len(CASES)} cases to {out_path}")


if __name__ == "__main__":
    main()
