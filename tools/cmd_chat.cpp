// `mlx chat`: a multi-turn conversation with a real message history (re-rendered through the chat template each
// turn, KV cache prefix reused), libedit line editing on a terminal, one turn per line/block from a pipe.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/interrupt.h"
#include "generation_flags.h"
#include "runtime/chat_session.h"
#include "runtime/line_reader.h"

namespace {

using Json = nlohmann::ordered_json;
namespace rt = mlx::runtime;

struct Opts {
  std::string model;
  std::optional<std::string> system_prompt;
  bool json = false;
  bool ignore_eos = false;
  mlx::cli::GenerationFlags gen;
};

const char* kHelp =
    "Commands:\n"
    "  /help, h          this help\n"
    "  /reset, r         forget the conversation (the system prompt stays)\n"
    "  /system TEXT      set the system prompt (empty TEXT removes it)\n"
    "  /save FILE        write the messages as JSON\n"
    "  /load FILE        read messages from a JSON file\n"
    "  /exit, q          leave (Ctrl-D too)\n"
    "A line ending with \\ continues on the next line; \"\"\" starts and ends a multi-line block.\n"
    "Ctrl-C stops a reply (it stays in the history); at the prompt it clears the line.\n";

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// One user input: a line, a line continued with a trailing backslash, or a """ block. nullopt at end of input.
std::optional<std::string> read_input(rt::LineReader& reader, bool* interrupted) {
  *interrupted = false;
  auto first = reader.read(reader.interactive() ? ">> " : "");
  if (first.status == rt::LineReader::Status::Interrupted) {
    *interrupted = true;
    return std::string();
  }
  if (first.status == rt::LineReader::Status::End) return std::nullopt;
  std::string text = first.text;
  if (trim(text) == "\"\"\"") {
    std::string block;
    bool any = false;
    while (true) {
      auto next = reader.read(reader.interactive() ? ".. " : "");
      if (next.status == rt::LineReader::Status::Interrupted) {
        *interrupted = true;
        return std::string();
      }
      if (next.status == rt::LineReader::Status::End || trim(next.text) == "\"\"\"") break;
      if (any) block += "\n";
      block += next.text;
      any = true;
    }
    reader.remember(block);
    return block;
  }
  while (!text.empty() && text.back() == '\\') {
    text.pop_back();
    auto next = reader.read(reader.interactive() ? ".. " : "");
    if (next.status == rt::LineReader::Status::Interrupted) {
      *interrupted = true;
      return std::string();
    }
    if (next.status == rt::LineReader::Status::End) break;
    text += "\n" + next.text;
  }
  reader.remember(text);
  return text;
}

int run(Opts& o) {
  mlx::cli::apply_threads(o.gen);
  auto params = mlx::cli::to_params(o.gen);
  params.ignore_eos = o.ignore_eos;
  auto m = mlx::cli::load_model(o.model, true, {});
  params.eos_ids = m.eos_ids;
  params.sampler.xtc_special_tokens = m.eos_ids;
  auto nl = m.tokenizer->encode("\n", false);
  params.sampler.xtc_special_tokens.insert(params.sampler.xtc_special_tokens.end(), nl.begin(), nl.end());
  // The session bounds the conversation itself (dropping old turns) to --max-kv-size or the model's context, so
  // its cache never has to rotate and can always be trimmed to a common prefix.
  const int64_t context = o.gen.max_kv_size > 0 ? o.gen.max_kv_size : m.model->info().max_position_embeddings;
  if (!m.chat_template)
    std::fprintf(stderr, "warning: %s has no chat template; using a plain 'role: content' format\n",
                 m.dir.string().c_str());
  rt::ChatSession session(*m.model, *m.tokenizer, m.chat_template ? &*m.chat_template : nullptr,
                          mlx::cli::template_config(o.gen), context);
  if (o.system_prompt) session.set_system_prompt(o.system_prompt);

  const bool interactive = isatty(STDIN_FILENO);
  rt::LineReader reader(interactive);
  mlx::install_interrupt_handler();
  if (interactive) std::fprintf(stderr, "[mlx chat: %s — /help for commands, Ctrl-D to leave]\n", m.dir.string().c_str());
  int failures = 0;
  while (true) {
    bool cancelled = false;
    auto input = read_input(reader, &cancelled);
    if (cancelled) {
      std::fprintf(stderr, "\n");
      continue;
    }
    if (!input) break;
    std::string text = *input;
    std::string cmd = trim(text);
    if (cmd.empty()) continue;
    try {
      if (cmd == "q" || cmd == "/exit" || cmd == "/quit") {
        if (interactive) std::fprintf(stderr, "bye\n");
        break;
      }
      if (cmd == "h" || cmd == "/help") {
        std::fputs(kHelp, stderr);
        continue;
      }
      if (cmd == "r" || cmd == "/reset") {
        session.reset();
        std::fprintf(stderr, "reset context cleared\n");
        continue;
      }
      if (cmd.rfind("/system", 0) == 0 && (cmd.size() == 7 || cmd[7] == ' ')) {
        std::string sys = trim(cmd.substr(7));
        session.set_system_prompt(sys.empty() ? std::nullopt : std::optional<std::string>(sys));
        std::fprintf(stderr, sys.empty() ? "system prompt removed\n" : "system prompt set\n");
        continue;
      }
      if (cmd.rfind("/save ", 0) == 0) {
        std::string file = trim(cmd.substr(6));
        mlx::write_file_atomic(file, session.messages().dump(2) + "\n");
        std::fprintf(stderr, "saved %zu messages to %s\n", session.messages().size(), file.c_str());
        continue;
      }
      if (cmd.rfind("/load ", 0) == 0) {
        std::string file = trim(cmd.substr(6));
        auto msgs = mlx::read_json(file);
        try {
          session.set_messages(msgs);
        } catch (const mlx::Error& e) {
          mlx::fail("{}: {}", file, e.what());
        }
        std::fprintf(stderr, "loaded %zu messages from %s\n", session.messages().size(), file.c_str());
        continue;
      }
      if (cmd[0] == '/' && cmd.find(' ') == std::string::npos && cmd.size() < 12) {
        std::fprintf(stderr, "unknown command %s (/help lists them)\n", cmd.c_str());
        continue;
      }
      if (!valid_utf8(text)) {
        std::fprintf(stderr, "error: the input is not valid UTF-8; please type it again\n");
        ++failures;
        continue;
      }
      mlx::clear_interrupt();
      auto sink = [&](std::string_view s) {
        if (o.json) return;
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
      };
      auto notice = [](const std::string& msg) { std::fprintf(stderr, "%s\n", msg.c_str()); };
      auto turn = session.turn(text, params, sink, notice);
      const auto& r = turn.gen;
      if (o.json) {
        std::printf("%s\n", mlx::cli::result_json(r, true).dump().c_str());
      } else {
        std::printf("\n");
      }
      std::fflush(stdout);
      if (r.interrupted) std::fprintf(stderr, "[stopped]\n");
      std::fprintf(stderr, "  %lld tokens · %.1f tok/s · prompt %.1f tok/s · peak %.2f GB\n",
                   (long long)r.generation_tokens, r.generation_tps, r.prompt_tps, r.peak_memory_gb);
      if (r.interrupted) {
        mlx::clear_interrupt();
        if (!interactive) return 130;
      }
    } catch (const mlx::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      ++failures;
      mlx::clear_interrupt();
    }
  }
  return (!interactive && failures) ? 1 : 0;
}

}  // namespace

static mlx::cli::RegisterCommand reg_chat{
    "chat", "Chat with a model (multi-turn, streaming)", [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      o->gen.max_tokens = 256;
      o->gen.seed = 0;  // mlx_lm.chat always seeds with 0
      app.add_option("--model", o->model, "Model directory or Hugging Face repo id (default: the demo model)");
      app.add_option("--system-prompt", o->system_prompt, "System prompt");
      app.add_flag("--json", o->json, "One JSON object per turn on stdout instead of streamed text");
      app.add_flag("--ignore-eos", o->ignore_eos, "Do not stop at EOS: every reply has --max-tokens tokens");
      mlx::cli::add_generation_flags(app, o->gen);
      return [o]() -> int { return run(*o); };
    }};
