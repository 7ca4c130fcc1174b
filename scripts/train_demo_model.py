#!/usr/bin/env python3
"""Train the project's shipped demo model (models/demo): a byte-level BPE tokenizer and a small Llama, from scratch.

Runs on the GPU machine (PyTorch + transformers + tokenizers + safetensors); the corpus comes from
`scripts/make_corpus DIR` (train.txt, heldout.txt, chat.txt, plain or .gz).

  python3 scripts/train_demo_model.py --corpus DIR --out OUTDIR [--work WORKDIR] [--time-budget 300] [--resume] [--smoke]

Steps: train the tokenizer on train.txt -> tokenize train.txt + chat.txt into one token stream (documents shuffled,
2 % of them kept aside as a validation stream for picking the best checkpoint) -> train LlamaForCausalLM with bf16
autocast, AdamW, linear warm-up then cosine decay, time-boxed (the number of steps is fixed after timing the first
steps so the cosine ends inside the budget, capped at each --epochs candidate; the candidate with the lowest
validation NLL wins, at its best evaluated step) -> save that checkpoint in bf16 as a
Hugging Face directory -> reload it in float32 and compute the held-out NLL over non-overlapping windows exactly as
mlx_lm's perplexity does (tokens of the whole held-out file, cut into rows of --sequence-length, each row predicts
its own tokens 1..L-1 from 0..L-2) -> pytorch_heldout.json beside the model.
--resume continues from WORKDIR/ckpt-N.pt (saved every --ckpt-every seconds): same tokenizer, stream and schedule.

Hyper-parameters of the shipped model (defaults below):
  tokenizer   byte-level BPE (GPT-2 pre-tokenizer regex), vocab 8192 incl. <|endoftext|>=0 <|im_start|>=1 <|im_end|>=2
  model       llama, hidden 384, 7 layers, 6 heads x 64, 2 KV heads (GQA), SwiGLU 1024, RMSNorm 1e-5, RoPE theta 1e4,
              tied embeddings, 14.2 M parameters, 28 MB in bf16
  training    batch 128 x 512 tokens, AdamW (0.9, 0.95), weight decay 0.1 on matrices, peak lr 2e-3, warm-up 100
              steps, cosine to 1e-4, grad clip 1.0, bf16 autocast over float32 weights, seed 0
              candidates --epochs 4,10,24 in --time-budget 210 s (70 s each)
Shipped run (one NVIDIA H200, 2026-12-05, torch 2.11.0, transformers 5.17.0, tokenizers 0.23.2):
  train stream 6.09 M tokens (3.87 bytes/token), validation 91 k tokens; 58.8 ms/step = 1.11 M tokens/s
  4 epochs -> val 3.665; 10 epochs -> val 3.113; 24-epoch cap (time-boxed to 1190 steps = 12.8 epochs) -> best
  val 3.111 at step 1000 (10.8 epochs; it over-fits after that: train 2.40, val 3.13 at the end) -> shipped
  held-out (heldout.txt, 594 windows x 511 predicted tokens): mean NLL 3.98342, perplexity 53.70 +- 0.31
  (higher than validation: the held-out chapters are whole books never seen in either Bible translation)
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import random
import shutil
import time

import torch
import torch.nn.functional as F

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def read_text(corpus, name):
    for fname in (name, name + ".gz"):
        path = os.path.join(corpus, fname)
        if os.path.exists(path):
            if fname.endswith(".gz"):
                with gzip.open(path, "rt", encoding="utf-8") as f:
                    return f.read()
            with open(path, encoding="utf-8") as f:
                return f.read()
    raise SystemExit(f"{corpus}: neither {name} nor {name}.gz")


# ------------------------------------------------------------------------------------------- tokenizer

def train_tokenizer(train_docs, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(train_docs, trainer=trainer)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, (s, tok.token_to_id(s))
    return tok


def tokenizer_config():
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, s in enumerate(SPECIALS)},
        "bos_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "model_max_length": 1024,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }


# ------------------------------------------------------------------------------------------- data

def build_streams(tok, train_text, chat_text, seed):
    """Shuffled documents -> (train ids, validation ids). Prose documents end with a blank line, as in
    heldout.txt; a chat dialogue ends with '\n' and <|endoftext|>."""
    prose = [d + "\n\n" for d in train_text.split("\n\n") if d.strip()]
    chats = [d + "\n" for d in chat_text.split("\n\n") if d.strip()]
    docs = [(d, False) for d in prose] + [(d, True) for d in chats]
    random.Random(seed).shuffle(docs)
    n_val = max(1, len(docs) // 50)
    enc = tok.encode_batch([d for d, _ in docs], add_special_tokens=False)
    streams = ([], [])
    for i, ((_, is_chat), e) in enumerate(zip(docs, enc)):
        s = streams[1] if i < n_val else streams[0]
        s.extend(e.ids)
        if is_chat:
            s.append(0)
    return torch.tensor(streams[0], dtype=torch.int32), torch.tensor(streams[1], dtype=torch.int32)


def windows(ids, seq_len):
    n = ids.numel() // seq_len
    return ids[: n * seq_len].view(n, seq_len).long()


# ------------------------------------------------------------------------------------------- model

def make_config(a):
    from transformers import LlamaConfig
    return LlamaConfig(
        vocab_size=a.vocab_size, hidden_size=a.hidden, intermediate_size=a.intermediate,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
        head_dim=a.hidden // a.heads, max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0,
        hidden_act="silu", attention_bias=False, mlp_bias=False, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=2, pad_token_id=0, initializer_range=0.02)


def lr_at(step, total, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = min(1.0, (step - a.warmup) / max(1, total - a.warmup))
    return a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * t))


@torch.no_grad()
def mean_nll(model, rows, batch, autocast):
    """Per-row mean next-token NLL (float64), mlx_lm's way: row[:-1] predicts row[1:]."""
    out = []
    for s in range(0, rows.shape[0], batch):
        b = rows[s: s + batch].cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=b[:, :-1]).logits
        nll = F.cross_entropy(logits.float().transpose(1, 2), b[:, 1:], reduction="none")
        out.append(nll.double().mean(dim=1).cpu())
    return torch.cat(out)


def save_hf(model, tok, a, out):
    os.makedirs(out, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(out)
    model.float()
    # Keys other loaders (mlx_lm, ours) read, whatever this transformers version chose to write.
    cfg_path = os.path.join(out, "config.json")
    cfg = json.load(open(cfg_path))
    cfg.update({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "rope_theta": 10000.0,
                "tie_word_embeddings": True, "torch_dtype": "bfloat16", "head_dim": a.hidden // a.heads,
                "bos_token_id": 0, "eos_token_id": 2})
    json.dump(cfg, open(cfg_path, "w"), indent=2, sort_keys=True)
    json.dump({"bos_token_id": 0, "eos_token_id": [2, 0], "pad_token_id": 0},
              open(os.path.join(out, "generation_config.json"), "w"), indent=2)
    tok.save(os.path.join(out, "tokenizer.json"))
    json.dump(tokenizer_config(), open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)


def evaluate_heldout(out, heldout_text, a):
    """Reload the saved bf16 checkpoint, compute in float32 (no TF32), like our C++ runtime does."""
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM
    import transformers
    import tokenizers
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).cuda().eval()
    ids = torch.tensor(tok.encode(heldout_text, add_special_tokens=False).ids, dtype=torch.int32)
    rows = windows(ids, a.sequence_length)
    # mlx_lm: mean over all B*(L-1) token losses, std with ddof=1, se = std/sqrt(N), ppl se = ppl*se.
    losses = []
    with torch.no_grad():
        for s in range(0, rows.shape[0], 16):
            b = rows[s: s + 16].cuda()
            logits = model(input_ids=b[:, :-1]).logits.float()
            losses.append(F.cross_entropy(logits.transpose(1, 2), b[:, 1:], reduction="none").double().cpu())
    losses = torch.cat(losses)  # [windows, L-1]
    per_row = losses.mean(dim=1)
    mean = losses.mean().item()
    std = losses.flatten().std(unbiased=True).item()
    se = std / math.sqrt(losses.numel())
    ppl = math.exp(mean)
    samples = {}
    for prompt in ["It is a truth universally acknowledged", "In the beginning", "The Lord is my shepherd"]:
        x = torch.tensor([tok.encode(prompt).ids]).cuda()
        y = model.generate(x, max_new_tokens=40, do_sample=False, eos_token_id=[2, 0], pad_token_id=0)
        samples[prompt] = tok.decode(y[0, x.shape[1]:].tolist(), skip_special_tokens=False)
    chat = "<|im_start|>user\nWho wrote Emma?<|im_end|>\n<|im_start|>assistant\n"
    x = torch.tensor([tok.encode(chat).ids]).cuda()
    y = model.generate(x, max_new_tokens=40, do_sample=False, eos_token_id=[2, 0], pad_token_id=0)
    samples[chat] = tok.decode(y[0, x.shape[1]:].tolist(), skip_special_tokens=False)
    result = {
        "data": "heldout.txt",
        "data_sha256": hashlib.sha256(heldout_text.encode()).hexdigest(),
        "how": "whole file tokenized without special tokens; non-overlapping rows of sequence_length tokens "
               "(tail dropped); each row's tokens 1..L-1 predicted from 0..L-2; float32 compute from the bf16 "
               "weights, no TF32; mean/std(ddof=1) over all token losses as mlx_lm perplexity",
        "sequence_length": a.sequence_length,
        "num_tokens_in_file": ids.numel(),
        "num_windows": rows.shape[0],
        "losses_per_window": a.sequence_length - 1,
        "mean_nll": mean,
        "std_nll": std,
        "perplexity": ppl,
        "perplexity_se": ppl * se,
        "window_mean_nll": [round(v, 7) for v in per_row.tolist()],
        "first_token_ids": ids[:512].tolist(),
        "greedy_samples": samples,
        "torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
    }
    with open(os.path.join(out, "pytorch_heldout.json"), "w") as f:
        json.dump(result, f, indent=1)
    log(f"RESULT held-out: {rows.shape[0]} windows x {a.sequence_length - 1} tokens, mean NLL {mean:.5f}, "
        f"perplexity {ppl:.4f} +- {ppl * se:.4f}")
    for k, v in samples.items():
        log("SAMPLE", repr(k), "->", repr(v))


def train_one(a, max_epochs, time_budget, train_ids, val_ids, ckpt_path):
    """Train one model from scratch; returns (best validation NLL, its state dict on the CPU)."""
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM(make_config(a)).cuda()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters; up to {max_epochs} epochs in {time_budget:.0f}s")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), fused=True)
    step, total, best, best_state, trained_s = 0, None, float("inf"), None, 0.0
    if a.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
        step, total, best, best_state, trained_s = ck["step"], ck["total"], ck["best"], ck["best_state"], ck["trained_s"]
        torch.set_rng_state(ck["rng"])
        log(f"resumed at step {step}/{total}")

    gpu_train = train_ids.cuda()
    val_rows = windows(val_ids, a.seq + 1)[:64]
    tokens_per_step = a.batch * a.seq
    max_steps = max(60, int(max_epochs * train_ids.numel() / tokens_per_step))
    eval_every = 100
    t_start, last_ckpt, step0 = time.time(), time.time(), step
    offs = torch.arange(a.seq + 1, device="cuda")

    def validate():
        nonlocal best, best_state
        model.eval()
        v = mean_nll(model, val_rows, 32, autocast=True).mean().item()
        model.train()
        if v < best:
            best = v
            best_state = {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()}
        log(f"step {step}/{total} lr {lr:.2e} train {loss.item():.4f} val {v:.4f} best {best:.4f} "
            f"epoch {step * tokens_per_step / train_ids.numel():.2f}")

    model.train()
    while total is None or step < total:
        starts = torch.randint(0, gpu_train.numel() - a.seq - 1, (a.batch,), device="cuda")
        batch = gpu_train[starts[:, None] + offs].long()
        lr = lr_at(step, total or max_steps, a)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if total is None and step - step0 == 30:
            torch.cuda.synchronize()
            per_step = (time.time() - t_start) / 30
            total = max(60, min(max_steps, int(time_budget / per_step)))
            log(f"{per_step * 1000:.1f} ms/step, {tokens_per_step / per_step / 1e6:.2f} M tok/s -> {total} steps "
                f"({total * tokens_per_step / train_ids.numel():.2f} epochs)")
        if step % eval_every == 0 or step == total:
            validate()
        if time.time() - last_ckpt > a.ckpt_every:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "total": total,
                        "best": best, "best_state": best_state, "rng": torch.get_rng_state(),
                        "trained_s": trained_s + time.time() - t_start}, ckpt_path)
            last_ckpt = time.time()
        if trained_s + time.time() - t_start > 1.3 * time_budget:
            log("stopping early: over 1.3x the time budget")
            validate()
            break
    log(f"trained {step} steps in {trained_s + time.time() - t_start:.0f}s; best val {best:.4f}")
    return best, best_state


# ------------------------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="demo-train-work")
    p.add_argument("--time-budget", type=float, default=300.0, help="seconds of training (cosine ends inside it)")
    p.add_argument("--epochs", default="4,10,24", help="candidate epoch caps, comma-separated; best validation wins")
    p.add_argument("--ckpt-every", type=float, default=60.0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--smoke", action="store_true", help="tiny run to check the script end to end")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--layers", type=int, default=7)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--sequence-length", type=int, default=512, help="held-out evaluation window")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    train_text = read_text(a.corpus, "train.txt")
    chat_text = read_text(a.corpus, "chat.txt")
    heldout_text = read_text(a.corpus, "heldout.txt")
    if a.smoke:
        train_text, chat_text = train_text[:2_000_000], chat_text[:200_000]
        heldout_text = heldout_text[:100_000]
        a.time_budget, a.warmup, a.epochs = min(a.time_budget, 15.0), 10, "1,2"

    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM
    tok_path = os.path.join(a.work, "tokenizer.json")
    stream_path = os.path.join(a.work, "streams.pt")
    if a.resume and os.path.exists(stream_path):
        tok = Tokenizer.from_file(tok_path)
        train_ids, val_ids = torch.load(stream_path)
    else:
        t0 = time.time()
        tok = train_tokenizer([d for d in train_text.split("\n\n")], a.vocab_size)
        tok.save(tok_path)
        train_ids, val_ids = build_streams(tok, train_text, chat_text, a.seed)
        torch.save((train_ids, val_ids), stream_path)
        log(f"tokenizer + streams in {time.time() - t0:.1f}s: train {train_ids.numel()} tokens "
            f"({len(train_text.encode()) / max(1, train_ids.numel()):.2f} bytes/token), val {val_ids.numel()}")

    torch.backends.cuda.matmul.allow_tf32 = True
    # Candidates differ only in how many epochs the cosine spans: with ~6.5 M tokens of text the best count is
    # not known in advance, so each gets an equal share of the time budget and validation picks the winner.
    results = []
    for i, epochs in enumerate(float(e) for e in a.epochs.split(",")):
        torch.manual_seed(a.seed)
        results.append((*train_one(a, epochs, a.time_budget / len(a.epochs.split(",")), train_ids, val_ids,
                                   os.path.join(a.work, f"ckpt-{i}.pt")), epochs))
        log(f"candidate {epochs} epochs: best val {results[-1][0]:.4f}")
    best, best_state, epochs = min(results, key=lambda r: r[0])
    log(f"RESULT chosen: {epochs} epochs, validation NLL {best:.4f}")
    model = LlamaForCausalLM(make_config(a))
    model.load_state_dict(best_state)
    model.eval()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    save_hf(model, tok, a, a.out)
    from safetensors import safe_open
    with safe_open(os.path.join(a.out, "model.safetensors"), "pt") as f:
        log("saved tensors:", len(list(f.keys())), "lm_head present:", "lm_head.weight" in f.keys())
    evaluate_heldout(a.out, heldout_text, a)


if __name__ == "__main__":
    main()
