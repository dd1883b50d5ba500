#!/usr/bin/python3
"""A Python/PyTorch baseline for the kit's `rlhf bench`: the same workloads, computed the way transformers + TRL do.

Why: an issue asks that the kit be "as fast as Python transformers + TRL on the same hardware or faster".
`transformers` and `trl` cannot be installed here (no PyPI); Debian's `python3-torch` can. So this file re-implements,
in plain eager PyTorch and op for op, what transformers 4.36 computes for T5ForConditionalGeneration (modeling_t5.py),
RobertaForSequenceClassification (modeling_roberta.py) and `generate(do_sample=True)`, and what TRL 0.7 computes for
its value head and PPO update: same layers, masks, relative-position bias (rebuilt at every decoding step, as
transformers does), key/value cache, float32 softmax, one host synchronisation per sampling step. It leaves out what
a real transformers run adds (ModelOutput objects, argument checks, hooks, dropout in PPO's training mode), so its
times stand in for, and if anything are a lower bound on, transformers' times.

--check proves the model code computes what transformers computes: it strictly loads the Hugging Face reference
checkpoints in tests/RlhfKit.Tests/fixtures/hf-reference (HF parameter names) and compares logits, cached incremental
logits and greedy generation with the stored transformers outputs (tolerance 1e-4). The benchmarks always run it first.

The benchmarks mirror lib/RlhfKit/Benchmarks (PerformanceBenchmark.cs, BenchmarkOptions.cs): the same shapes, median
of 3 timed runs after 1 warm-up, the same FLOP formula and ms/step. They write pytorch_bench.json (keys named as in
the kit's bench.json where the quantity is the same) and pytorch_bench.md. See scripts/bench/README.md.
"""
import argparse, copy, ctypes, json, math, os, platform, random, statistics, sys, time
from types import SimpleNamespace as NS

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FLOP_FORMULA = ("2*(N_enc + N_xkv)*B*L_prompt + 2*(N_dec - N_xkv + N_lm_head)*B*n_new, N = non-embedding weights of the "
                "encoder blocks (N_enc), decoder blocks (N_dec; N_xkv = their cross-attention k/v, applied to the encoder "
                "output once) and the output layer; attention-score products and embedding lookups are not counted")

def config(defaults, overrides):
    c = NS(**defaults)
    for k, v in overrides.items():
        if hasattr(c, k): setattr(c, k, v)
    return c

def t5_config(**kw):  # defaults: google/flan-t5-small's shape
    c = config(dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=None,
                    num_heads=6, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                    layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0), kw)
    c.num_decoder_layers = c.num_decoder_layers or c.num_layers
    return c

def roberta_config(**kw):  # defaults: roberta-base's shape with two labels
    c = config(dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                    pad_token_id=1, num_labels=2), kw)
    c.num_labels = len(kw.get("id2label", {})) or c.num_labels
    return c

# ---------------------------------------------------------------------------------------------------- T5 (modeling_t5)

def gelu_new(x):  # NewGELUActivation ("gelu_new"), the tanh approximation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

class T5LayerNorm(nn.Module):  # RMS norm (no mean, no bias); the variance in float32
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.variance_epsilon = nn.Parameter(torch.ones(d)), eps

    def forward(self, h):
        return self.weight * (h * torch.rsqrt(h.to(torch.float32).pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

class T5LayerFF(nn.Module):  # "relu": wo(relu(wi x)); "gated-gelu": wo(gelu_new(wi_0 x) * wi_1 x)
    def __init__(self, c):
        super().__init__()
        self.gated = c.feed_forward_proj.startswith("gated-")
        d = self.DenseReluDense = nn.Module()
        for name in (["wi_0", "wi_1"] if self.gated else ["wi"]):
            setattr(d, name, nn.Linear(c.d_model, c.d_ff, bias=False))
        d.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)

    def forward(self, h):
        x, d = self.layer_norm(h), self.DenseReluDense
        return h + d.wo(gelu_new(d.wi_0(x)) * d.wi_1(x) if self.gated else F.relu(d.wi(x)))

def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """Exact buckets for small distances, logarithmic ones up to max_distance (T5Attention._relative_position_bucket)."""
    buckets = 0
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(relative_position < max_exact, relative_position, large)

class T5Attention(nn.Module):
    """Unscaled dot-product attention, an additive relative-position bias (first layer only), a key/value cache."""
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.c, self.is_decoder, self.has_relative_attention_bias = c, is_decoder, has_relative_attention_bias
        inner = c.num_heads * c.d_kv
        self.q, self.k, self.v = (nn.Linear(c.d_model, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, c.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(c.relative_attention_num_buckets, c.num_heads)

    def compute_bias(self, query_length, key_length):  # [1, heads, q, k]
        relative = torch.arange(key_length)[None, :] - torch.arange(query_length)[:, None]
        buckets = relative_position_bucket(relative, not self.is_decoder, self.c.relative_attention_num_buckets,
                                           self.c.relative_attention_max_distance)
        return self.relative_attention_bias(buckets).permute([2, 0, 1]).unsqueeze(0)

    def forward(self, h, mask=None, kv=None, position_bias=None, past=None, query_length=None, use_cache=False):
        batch, seq_length = h.shape[:2]
        real_seq_length = seq_length + ((past[0].shape[2] if query_length is None else query_length) if past else 0)
        key_length = real_seq_length if kv is None else kv.shape[1]
        shape = lambda x: x.view(batch, -1, self.c.num_heads, self.c.d_kv).transpose(1, 2)
        query = shape(self.q(h))
        if kv is None:          # self-attention: this call's keys/values, appended to the cache
            key, value = shape(self.k(h)), shape(self.v(h))
            if past is not None:
                key, value = torch.cat([past[0], key], dim=2), torch.cat([past[1], value], dim=2)
        elif past is None:      # cross-attention, first call: project the encoder output once
            key, value = shape(self.k(kv)), shape(self.v(kv))
        else:                   # cross-attention, later steps: reuse
            key, value = past
        scores = torch.matmul(query, key.transpose(3, 2))
        if position_bias is None:  # as transformers: the whole [q_total, k] table on every call, then the last rows
            position_bias = (self.compute_bias(real_seq_length, key_length) if self.has_relative_attention_bias else
                             torch.zeros((1, self.c.num_heads, real_seq_length, key_length), dtype=scores.dtype))
            if past is not None:
                position_bias = position_bias[:, :, -seq_length:, :]
            if mask is not None:
                position_bias = position_bias + mask
        scores += position_bias
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        out = torch.matmul(weights, value).transpose(1, 2).contiguous().view(batch, -1, self.c.num_heads * self.c.d_kv)
        out = self.o(out)
        return out, ((key, value) if self.is_decoder and use_cache else None), position_bias

class T5LayerAttention(nn.Module):  # T5LayerSelfAttention (.SelfAttention) / T5LayerCrossAttention (.EncDecAttention)
    def __init__(self, c, is_decoder, has_bias, cross):
        super().__init__()
        self.name = "EncDecAttention" if cross else "SelfAttention"
        setattr(self, self.name, T5Attention(c, is_decoder, has_bias))
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)

    def forward(self, h, *args):
        out, present, bias = getattr(self, self.name)(self.layer_norm(h), *args)
        return h + out, present, bias

class T5Block(nn.Module):
    def __init__(self, c, is_decoder, has_bias):
        super().__init__()
        self.is_decoder = is_decoder
        cross = [T5LayerAttention(c, True, False, cross=True)] if is_decoder else []
        self.layer = nn.ModuleList([T5LayerAttention(c, is_decoder, has_bias, cross=False)] + cross + [T5LayerFF(c)])

    def forward(self, h, mask, bias, enc_h, enc_mask, enc_dec_bias, past, use_cache):
        h, present, bias = self.layer[0](h, mask, None, bias, past[:2] if past else None, None, use_cache)
        if self.is_decoder:
            query_length = present[0].shape[2] if present is not None else None
            h, cross, enc_dec_bias = self.layer[1](h, enc_mask, enc_h, enc_dec_bias, past[2:] if past else None,
                                                   query_length, use_cache)
            present = present + cross if present is not None else None
        return self.layer[-1](h), present, bias, enc_dec_bias

def extended_mask(mask):  # 1 -> 0, 0 -> float32's minimum: transformers' additive attention masks
    return (1.0 - mask.to(torch.float32)) * torch.finfo(torch.float32).min

class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens, is_decoder):
        super().__init__()
        self.embed_tokens, self.is_decoder = embed_tokens, is_decoder
        layers = c.num_decoder_layers if is_decoder else c.num_layers
        self.block = nn.ModuleList([T5Block(c, is_decoder, i == 0) for i in range(layers)])
        self.final_layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask=None, enc_h=None, enc_mask=None, past_key_values=None, use_cache=False):
        h, (batch, seq_length) = self.embed_tokens(input_ids), input_ids.shape
        if attention_mask is None:
            past_length = past_key_values[0][0].shape[2] if past_key_values else 0
            attention_mask = torch.ones(batch, past_length + seq_length, dtype=torch.long)
        if self.is_decoder:  # causal over this call's positions; cached positions are all visible
            ids = torch.arange(seq_length)
            causal = (ids[None, None, :].repeat(batch, seq_length, 1) <= ids[None, :, None]).to(attention_mask.dtype)
            prefix = attention_mask.shape[1] - seq_length
            if prefix > 0:
                causal = torch.cat([torch.ones(batch, seq_length, prefix, dtype=causal.dtype), causal], dim=-1)
            mask = extended_mask(causal[:, None, :, :] * attention_mask[:, None, None, :])
            enc_mask = extended_mask((enc_mask if enc_mask is not None else torch.ones(enc_h.shape[:2]))[:, None, None, :])
        else:
            mask = extended_mask(attention_mask[:, None, None, :])
        bias = enc_dec_bias = None
        presents = []
        for i, block in enumerate(self.block):  # the first block's biases (mask included) are reused by the others
            h, present, bias, enc_dec_bias = block(h, mask, bias, enc_h, enc_mask, enc_dec_bias,
                                                   past_key_values[i] if past_key_values else None, use_cache)
            presents.append(present)
        return self.final_layer_norm(h), (presents if use_cache else None)

class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder, self.decoder = T5Stack(c, self.shared, False), T5Stack(c, self.shared, True)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.shared.weight

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, encoder_hidden=None,
                past_key_values=None, use_cache=False):
        if encoder_hidden is None:
            encoder_hidden = self.encoder(input_ids, attention_mask)[0]
        dec, presents = self.decoder(decoder_input_ids, None, encoder_hidden, attention_mask, past_key_values, use_cache)
        logits = self.lm_head(dec * self.config.d_model ** -0.5 if self.config.tie_word_embeddings else dec)
        return NS(logits=logits, past_key_values=presents, decoder_hidden=dec, encoder_hidden=encoder_hidden)

    def init_weights_like_hf(self):  # T5PreTrainedModel._init_weights, factor 1.0
        c = self.config
        std = {".q.weight": (c.d_model * c.d_kv) ** -0.5, ".o.weight": (c.num_heads * c.d_kv) ** -0.5,
               ".wo.weight": c.d_ff ** -0.5, "shared.weight": 1.0, "lm_head.weight": 1.0}
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "layer_norm" in name:
                    p.fill_(1.0)
                else:  # k, v, wi*, relative_attention_bias: d_model ** -0.5
                    p.normal_(0.0, next((s for k, s in std.items() if name.endswith(k)), c.d_model ** -0.5))
        return self

@torch.no_grad()
def generate(model, input_ids, attention_mask, max_new_tokens, do_sample=False, min_new_tokens=0, generator=None,
             output_scores=False):
    """transformers' greedy_search / sample loop for an encoder-decoder, without warpers (top_k=0, top_p=1,
    temperature 1: TRL's pure sampling). min_new_tokens is MinNewTokensLengthLogitsProcessor. Returns (sequences, scores)."""
    c = model.config
    enc = model.encoder(input_ids, attention_mask)[0]
    sequences = torch.full((input_ids.shape[0], 1), c.decoder_start_token_id, dtype=torch.long)
    unfinished, eos = torch.ones(input_ids.shape[0], dtype=torch.long), torch.tensor([c.eos_token_id])
    past, scores = None, []
    for step in range(max_new_tokens):
        decoder_input = sequences if past is None else sequences[:, past[0][0].shape[2]:]  # prepare_inputs_for_generation
        out = model(attention_mask=attention_mask, decoder_input_ids=decoder_input, encoder_hidden=enc,
                    past_key_values=past, use_cache=True)
        logits = out.logits[:, -1, :]
        if step < min_new_tokens:
            logits[:, c.eos_token_id] = -float("inf")
        if output_scores:
            scores.append(logits)
        if do_sample:
            next_tokens = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator).squeeze(1)
        else:
            next_tokens = torch.argmax(logits, dim=-1)
        next_tokens = next_tokens * unfinished + c.pad_token_id * (1 - unfinished)
        sequences, past = torch.cat([sequences, next_tokens[:, None]], dim=-1), out.past_key_values
        unfinished = unfinished.mul(next_tokens.tile(eos.shape[0], 1).ne(eos.unsqueeze(1)).prod(dim=0))
        if unfinished.max() == 0:  # the one host synchronisation per step
            break
    return sequences, scores

# ------------------------------------------------------------------------------------------ RoBERTa (modeling_roberta)

class RobertaEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.padding_idx = c.pad_token_id
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=c.pad_token_id)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.register_buffer("token_type_ids", torch.zeros(1, c.max_position_embeddings, dtype=torch.long), persistent=False)

    @staticmethod
    def position_ids(input_ids, padding_idx):  # real tokens count from padding_idx + 1, padding keeps padding_idx
        mask = input_ids.ne(padding_idx).int()
        return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx

    def forward(self, input_ids):
        token_types = self.token_type_ids[:, :input_ids.shape[1]].expand(input_ids.shape)
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_types)
        e += self.position_embeddings(self.position_ids(input_ids, self.padding_idx))
        return self.LayerNorm(e)

class RobertaSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.head_size = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.query, self.key, self.value = (nn.Linear(c.hidden_size, c.hidden_size) for _ in range(3))

    def forward(self, h, mask):
        split = lambda x: x.view(x.shape[0], x.shape[1], self.heads, self.head_size).permute(0, 2, 1, 3)
        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + mask
        context = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.shape[0], context.shape[1], -1)

class RobertaDenseNorm(nn.Module):  # RobertaSelfOutput / RobertaOutput: LayerNorm(dense(x) + residual)
    def __init__(self, c, d_in):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(d_in, c.hidden_size), nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)

class RobertaLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention, self.intermediate = nn.Module(), nn.Module()
        self.attention.self, self.attention.output = RobertaSelfAttention(c), RobertaDenseNorm(c, c.hidden_size)
        self.intermediate.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.output = RobertaDenseNorm(c, c.intermediate_size)

    def forward(self, h, mask):
        a = self.attention.output(self.attention.self(h, mask), h)
        return self.output(F.gelu(self.intermediate.dense(a)), a)  # "gelu": the exact erf GELU

class RobertaForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config, self.roberta, self.classifier = c, nn.Module(), nn.Module()
        self.roberta.embeddings, self.roberta.encoder = RobertaEmbeddings(c), nn.Module()
        self.roberta.encoder.layer = nn.ModuleList([RobertaLayer(c) for _ in range(c.num_hidden_layers)])
        self.classifier.dense = nn.Linear(c.hidden_size, c.hidden_size)  # RobertaClassificationHead
        self.classifier.out_proj = nn.Linear(c.hidden_size, c.num_labels)

    def forward(self, input_ids, attention_mask):
        h, mask = self.roberta.embeddings(input_ids), extended_mask(attention_mask[:, None, None, :])
        for layer in self.roberta.encoder.layer:
            h = layer(h, mask)
        return self.classifier.out_proj(torch.tanh(self.classifier.dense(h[:, 0, :]))), h  # the head reads <s>

    def init_weights_like_hf(self):  # normal(0, 0.02); zero biases and padding rows; LayerNorm 1, 0
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "LayerNorm.weight" in name: p.fill_(1.0)
                elif name.endswith("bias"): p.zero_()
                else: p.normal_(0.0, 0.02)
            for e in (self.roberta.embeddings.word_embeddings, self.roberta.embeddings.position_embeddings):
                e.weight[self.config.pad_token_id].zero_()
        return self

# ------------------------------------------------------------------------------------------ TRL value head and PPO loss

class Seq2SeqWithValueHead(nn.Module):
    """TRL's AutoModelForSeq2SeqLMWithValueHead: logits, and a value per decoder position (v_head.summary: d_model -> 1)."""
    def __init__(self, c):
        super().__init__()
        self.pretrained_model, self.v_head = T5ForConditionalGeneration(c).init_weights_like_hf(), nn.Module()
        self.v_head.summary = nn.Linear(c.d_model, 1)

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        out = self.pretrained_model(input_ids, attention_mask, decoder_input_ids)
        return out.logits, self.v_head.summary(out.decoder_hidden).squeeze(-1)

def logprobs_from_logits(logits, labels):
    return torch.gather(F.log_softmax(logits, dim=2), 2, labels.unsqueeze(2)).squeeze(-1)

def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum()

def ppo_loss(old_logprobs, old_values, logits, vpreds, logprobs, mask, advantages, returns, clip=0.2, vf_coef=0.1):
    """PPOTrainer.loss: the clipped policy-gradient and value losses; the statistics without gradients."""
    vclipped = torch.max(torch.min(vpreds, old_values + clip), old_values - clip)
    vf_loss = 0.5 * masked_mean(torch.max((vpreds - returns) ** 2, (vclipped - returns) ** 2), mask)
    ratio = torch.exp(logprobs - old_logprobs)
    pg_loss = masked_mean(torch.max(-advantages * ratio, -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)), mask)
    with torch.no_grad():
        stats = NS(avg_ratio=masked_mean(ratio, mask).item(),  # TRL's ratio_threshold check: a host sync
                   entropy=masked_mean(torch.logsumexp(logits, -1) - (F.softmax(logits, -1) * logits).sum(-1), mask),
                   approxkl=0.5 * masked_mean((logprobs - old_logprobs) ** 2, mask))
    return pg_loss + vf_coef * vf_loss, stats

def advantages_gae(values, rewards, mask, gamma=1.0, lam=0.95):  # PPOTrainer.compute_advantages: GAE, then whitened
    last, steps = 0.0, []
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else 0.0
        last = rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * last
        steps.append(last)
    adv = torch.stack(steps[::-1], dim=1)
    mean = masked_mean(adv, mask)
    return (adv - mean) * torch.rsqrt(masked_mean((adv - mean) ** 2, mask) + 1e-8), adv + values

# ------------------------------------------------------------------------------------------------------ --check

def check(fixtures, tol=1e-4):
    """Strict-load the HF fixture checkpoints; compare with the transformers outputs stored next to them."""
    results = {}
    load = lambda t: torch.tensor(t["data"], dtype=torch.long if t["dtype"] == "int64" else torch.float32).view(t["shape"])
    def diff(name, ours, ref):
        results[name] = (ours - ref).abs().max().item()
        assert results[name] <= tol, f"{name}: max abs diff {results[name]:.3g} > {tol}"
    for name in ("t5-gated", "t5-relu", "roberta-cls"):
        folder = os.path.join(fixtures, name)
        cfg = {"tie_word_embeddings": True, **json.load(open(os.path.join(folder, "config.json")))}  # HF's default: tied
        ref = json.load(open(os.path.join(folder, "reference.json")))
        inp, out = {k: load(v) for k, v in ref["inputs"].items()}, ref["outputs"]
        state = torch.load(os.path.join(folder, "pytorch_model.bin"), map_location="cpu")
        model = (T5ForConditionalGeneration(t5_config(**cfg)) if name.startswith("t5")
                 else RobertaForSequenceClassification(roberta_config(**cfg))).eval()
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            if name.startswith("t5"):
                ids, mask, dec = inp["input_ids"], inp["attention_mask"], inp["decoder_input_ids"]
                o = model(ids, mask, dec)
                diff(f"{name}/encoder_last_hidden_state", o.encoder_hidden, load(out["encoder_last_hidden_state"]))
                diff(f"{name}/logits", o.logits, load(out["logits"]))
                past, steps = None, []  # one decoder token at a time through the key/value cache
                for t in range(dec.shape[1]):
                    s = model(attention_mask=mask, decoder_input_ids=dec[:, t:t + 1], encoder_hidden=o.encoder_hidden,
                              past_key_values=past, use_cache=True)
                    past = s.past_key_values
                    steps.append(s.logits)
                diff(f"{name}/incremental_logits", torch.cat(steps, dim=1), load(out["incremental_logits"]))
                sequences, scores = generate(model, ids, mask, max_new_tokens=len(out["generate_scores"]), output_scores=True)
                assert torch.equal(sequences, load(out["generate_sequences"])), f"{name}: greedy sequences differ"
                results[f"{name}/generate_sequences_equal"] = True
                diff(f"{name}/generate_scores", torch.stack(scores), torch.stack([load(s) for s in out["generate_scores"]]))
            else:
                ids, mask = inp["input_ids"], inp["attention_mask"]
                assert torch.equal(RobertaEmbeddings.position_ids(ids, model.config.pad_token_id), load(out["position_ids"]))
                logits, hidden = model(ids, mask)
                diff(f"{name}/last_hidden_state", hidden, load(out["last_hidden_state"]))
                diff(f"{name}/logits", logits, load(out["logits"]))
    return results

# ------------------------------------------------------------------------------------------------------ benchmarks

def timed(warmup, reps, fn):  # the kit's PerformanceBenchmark.Time: median of `reps` after `warmup` untimed runs
    for _ in range(warmup): fn()
    times = []
    for _ in range(max(1, reps)):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)

def rss(key):  # "VmRSS:" (now) or "VmHWM:" (peak since start or the last reset), bytes
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))

def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f: f.write("5")
        return True
    except OSError:
        return False

def per_call(o, fn):
    """Median seconds of one call of a short operation (the kit's SecondsPerCall): each timed run repeats it enough
    times to last about a quarter of a second."""
    t = time.perf_counter(); fn(); first = time.perf_counter() - t
    inner = max(1, math.ceil(0.25 / max(first, 1e-6)))
    return timed(o.warmup, o.reps, lambda: [fn() for _ in range(inner)]) / inner

def bench_matmul(o, log, single_thread=True):
    def one(n):
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        with torch.inference_mode():
            s = per_call(o, lambda: a.mm(b))
        log(f"matmul {n}x{n}, {torch.get_num_threads()} thread(s): {2.0 * n ** 3 / s / 1e9:.1f} GFLOP/s")
        return {"n": n, "threads": torch.get_num_threads(), "median_seconds": s, "gflops": 2.0 * n ** 3 / s / 1e9}
    results, threads = [one(n) for n in o.matmul_sizes], torch.get_num_threads()
    if single_thread and threads > 1:  # what the extra threads buy
        torch.set_num_threads(1)
        results.append(one(max(o.matmul_sizes)))
        torch.set_num_threads(threads)
    return results

def bench_linear(o, log):
    """F.linear(x [m, k], W [n, k]) for the models' own projection shapes, at the set threads and at 1 thread: the
    BLAS library's rate where the models spend their time (skinny products while decoding)."""
    results, threads = [], torch.get_num_threads()
    for t in ([threads, 1] if threads > 1 else [threads]):
        torch.set_num_threads(t)
        for name, m, k, n in o.linear_shapes:
            g = torch.Generator().manual_seed(0)
            x, w = torch.randn(m, k, generator=g), torch.randn(n, k, generator=g)
            with torch.inference_mode():
                s = per_call(o, lambda: F.linear(x, w))
            r = {"name": name, "m": m, "k": k, "n": n, "threads": t, "median_seconds": s, "gflops": 2.0 * m * k * n / s / 1e9}
            log(f"linear {name} [{m},{k}]x[{k},{n}], {t} thread(s): {s * 1e3:.3f} ms, {r['gflops']:.1f} GFLOP/s")
            results.append(r)
    torch.set_num_threads(threads)
    return results

def model_flop(model, batch, prompt, new):  # PerformanceBenchmark.ModelFlop
    count = lambda m: sum(p.numel() for p in m.parameters())
    enc = count(model.encoder.block) + count(model.encoder.final_layer_norm)
    dec = count(model.decoder.block) + count(model.decoder.final_layer_norm)
    xkv = sum(count(b.layer[1].EncDecAttention.k) + count(b.layer[1].EncDecAttention.v) for b in model.decoder.block)
    return 2.0 * (enc + xkv) * batch * prompt + 2.0 * (dec - xkv + model.lm_head.weight.numel()) * batch * new

def bench_generation(o, peak, log):
    torch.manual_seed(0)
    c, batch, prompt = o.gen_model, o.gen_batch, o.prompt_tokens
    model = T5ForConditionalGeneration(c).init_weights_like_hf().eval()
    ids = torch.randint(max(2, c.eos_token_id + 1), c.vocab_size, (batch, prompt), generator=torch.Generator().manual_seed(1))
    ids[:, -1] = c.eos_token_id  # prompts end with eos, as tokenized ones do
    mask = torch.ones_like(ids)
    with torch.no_grad():
        encoder = timed(o.warmup, o.reps, lambda: model.encoder(ids, mask))
    results = []
    for n in o.new_tokens:  # pure sampling with eos masked, so every row generates n tokens
        def run():
            seq, _ = generate(model, ids, mask, n, do_sample=True, min_new_tokens=n, generator=torch.Generator().manual_seed(1))
            assert seq.shape[1] == n + 1, f"expected {n} new tokens, got {seq.shape[1] - 1}"
        cached, flop = timed(o.warmup, o.reps, run), model_flop(model, batch, prompt, n)
        r = {"model": o.gen_name, "parameters": sum(p.numel() for p in model.parameters()), "batch": batch,
             "prompt_tokens": prompt, "new_tokens": n, "encoder_seconds": encoder, "cached_seconds": cached,
             "cached_tokens_per_second": batch * n / cached, "cached_ms_per_step": max(cached - encoder, 0) / n * 1000,
             "model_gflop": flop / 1e9, "cached_gflops": flop / cached / 1e9, "cached_fraction_of_peak": flop / cached / 1e9 / peak,
             "flop_formula": FLOP_FORMULA}
        log(f"generate {o.gen_name}, {n} new tokens: {r['cached_tokens_per_second']:.1f} tok/s, {r['cached_ms_per_step']:.1f} "
            f"ms/step, {100 * r['cached_fraction_of_peak']:.1f}% of matmul peak")
        results.append(r)
    return results

def bench_ppo(o, log):
    """The PpoTrainer.Step phases that hold the model compute: forward_pass (policy and reference log-probabilities
    and values, no gradients, mini_batch rows at a time: TRL's batched_forward_pass) and optimize_step (epochs of
    minibatch forward + backward, gradient accumulation, clip_grad_norm 1.0 and Adam)."""
    reset, start = reset_peak_rss(), rss("VmRSS:")
    torch.manual_seed(0)
    c, p = o.ppo_model, o.ppo
    policy = Seq2SeqWithValueHead(c).eval()  # the kit runs the whole step in eval mode (no dropout)
    reference = copy.deepcopy(policy).eval().requires_grad_(False)  # TRL's create_reference_model: a frozen copy
    params = [q for q in policy.parameters() if q.requires_grad]
    optimizer = torch.optim.Adam(params, lr=p["lr"])
    models, gen, mb = rss("VmRSS:"), torch.Generator().manual_seed(0), p["mini_batch"]

    def rollout(prompt, new):  # queries end with eos; decoder input = start token + response (TRL keeps the start token)
        q = torch.randint(2, c.vocab_size, (p["batch"], prompt), generator=gen); q[:, -1] = c.eos_token_id
        d = torch.randint(2, c.vocab_size, (p["batch"], 1 + new), generator=gen); d[:, 0] = c.decoder_start_token_id
        return q, torch.ones_like(q), d

    def forward_pass(q, qm, d):
        outs = {}
        with torch.no_grad():
            for name, m in (("policy", policy), ("reference", reference)):
                logprobs, values = [], []
                for i in range(0, p["batch"], mb):
                    lg, v = m(q[i:i + mb], qm[i:i + mb], d[i:i + mb])
                    logprobs.append(logprobs_from_logits(lg[:, :-1], d[i:i + mb, 1:])); values.append(v[:, :-1])
                outs[name] = torch.cat(logprobs), torch.cat(values)
        return outs

    def optimize(q, qm, d, outs, mask, adv, returns):
        (old_lp, old_v), passes, steps = outs["policy"], 0, 0
        for _ in range(p["epochs"]):
            order = torch.randperm(p["batch"], generator=gen)
            for b in range(0, p["batch"], mb * p["grad_accum"]):
                for m in range(b, b + mb * p["grad_accum"], mb):
                    rows = order[m:m + mb]
                    logits, values = policy(q[rows], qm[rows], d[rows])
                    logits, values = logits[:, :-1], values[:, :-1]
                    loss, _ = ppo_loss(old_lp[rows], old_v[rows], logits, values, logprobs_from_logits(logits, d[rows, 1:]),
                                       mask[rows], adv[rows], returns[rows])
                    (loss / p["grad_accum"]).backward()
                    passes += 1
                nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step(); optimizer.zero_grad(); steps += 1
        return passes, steps

    phases, peaks = {"time/ppo/forward_pass": [], "time/ppo/optimize_step": []}, {"forward_pass": 0, "optimize_step": 0}
    for step in range(1 + o.ppo_steps):  # a warm-up step on short prompts first, as the kit's bench does
        q, qm, d = rollout(min(16, o.ppo_prompt), min(4, o.ppo_new)) if step == 0 else rollout(o.ppo_prompt, o.ppo_new)
        reset_peak_rss(); t = time.perf_counter()
        outs = forward_pass(q, qm, d)
        t_fwd, peaks["forward_pass"] = time.perf_counter() - t, max(peaks["forward_pass"], rss("VmHWM:"))
        # compute_rewards / compute_advantages (their own, negligible phases): KL penalty, the score on the last token
        mask = torch.ones_like(outs["policy"][0])
        rewards = -0.2 * (outs["policy"][0] - outs["reference"][0]); rewards[:, -1] += 1.0
        adv, returns = advantages_gae(outs["policy"][1], rewards, mask)
        reset_peak_rss(); t = time.perf_counter()
        passes, steps = optimize(q, qm, d, outs, mask, adv, returns)
        t_opt, peaks["optimize_step"] = time.perf_counter() - t, max(peaks["optimize_step"], rss("VmHWM:"))
        if step > 0:
            phases["time/ppo/forward_pass"].append(t_fwd); phases["time/ppo/optimize_step"].append(t_opt)
            log(f"PPO: forward_pass {t_fwd:.2f} s, optimize_step {t_opt:.2f} s ({passes} forward+backward passes, "
                f"{steps} Adam steps); peak RSS {max(peaks.values()) / 2 ** 20:.0f} MiB")
    return {"model": o.ppo_name, "policy_parameters": sum(q.numel() for q in policy.pretrained_model.parameters()),
            "batch": p["batch"], "mini_batch": mb, "gradient_accumulation_steps": p["grad_accum"], "ppo_epochs": p["epochs"],
            "prompt_tokens": o.ppo_prompt, "new_tokens": o.ppo_new, "measured_steps": o.ppo_steps,
            "forward_backward_passes": passes, "optimizer_steps": steps,
            "phase_seconds": {k: statistics.median(v) for k, v in phases.items()},
            "peak_memory_bytes": max(peaks.values()), "peak_memory_by_phase_bytes": peaks, "start_memory_bytes": start,
            "models_memory_bytes": models, "peak_reset_at_start": reset, "peak_memory_source": "/proc/self/status VmHWM",
            "memory_note": "Policy + value head, frozen reference and Adam state only "
                           "(the kit's figure also holds the reward model)"}

def reward_lengths(o, path):
    """Token lengths in input order: the kit's bench.json `reward.token_lengths`, else the kit's synthetic spread
    (evenly from min to max, shuffled with a fixed seed; 10..400 words are 12..402 tokens with <s> and </s>)."""
    if path:
        lengths = json.load(open(path)).get("reward", {}).get("token_lengths")
        if lengths: return [int(n) for n in lengths], os.path.abspath(path)
        print(f"warning: {path} has no reward.token_lengths; using the synthetic spread", file=sys.stderr)
    n, lo, hi = o.reward_texts, o.reward_min_tokens, o.reward_max_tokens
    lengths = [lo + round((hi - lo) * i / max(1, n - 1)) for i in range(n)]
    random.Random(0).shuffle(lengths)
    return lengths, f"synthetic: {n} lengths evenly spread {lo}..{hi}, shuffled (seed 0)"

def bench_reward(o, lengths, source, log):
    torch.manual_seed(0)
    c, bs, rng = o.reward_model, o.reward_batch, random.Random(0)
    model = RobertaForSequenceClassification(c).init_weights_like_hf().eval()
    lengths = [min(n, c.max_position_embeddings - 2) for n in lengths]  # truncation to the model's limit, as the kit's
    texts = [[0] + [rng.randrange(4, c.vocab_size) for _ in range(n - 2)] + [2] for n in lengths]  # <s> ... </s>
    batches = lambda order: [order[i:i + bs] for i in range(0, len(order), bs)]

    def score(order):  # collate (right padding with pad 1, attention mask), forward, logits back in input order
        logits = [None] * len(texts)
        with torch.inference_mode():
            for chunk in batches(order):
                ids = torch.full((len(chunk), max(len(texts[j]) for j in chunk)), c.pad_token_id, dtype=torch.long)
                for r, j in enumerate(chunk): ids[r, :len(texts[j])] = torch.tensor(texts[j])
                for j, row in zip(chunk, model(ids, ids.ne(c.pad_token_id).long())[0]): logits[j] = row
        return logits

    by_length, in_order = sorted(range(len(texts)), key=lambda j: -len(texts[j])), list(range(len(texts)))  # longest first
    for _ in range(o.warmup): score(in_order[:bs])
    sorted_s = timed(0, o.reward_reps, lambda: score(by_length))
    unsorted_s = timed(0, o.reward_reps, lambda: score(in_order))
    padded = lambda order: sum(max(len(texts[j]) for j in b) * len(b) for b in batches(order))
    r = {"model": o.reward_name, "texts": len(texts), "min_tokens": min(lengths), "max_tokens": max(lengths),
         "token_lengths_source": source, "batch_size": bs, "repetitions": o.reward_reps, "real_tokens": sum(lengths),
         "sorted_padded_tokens": padded(by_length), "unsorted_padded_tokens": padded(in_order),
         "sorted_seconds": sorted_s, "unsorted_seconds": unsorted_s, "sorted_texts_per_second": len(texts) / sorted_s,
         "unsorted_texts_per_second": len(texts) / unsorted_s, "sorting_speedup": unsorted_s / sorted_s}
    log(f"reward scoring: sorted {r['sorted_texts_per_second']:.2f} texts/s, unsorted {r['unsorted_texts_per_second']:.2f} texts/s")
    return r

# ------------------------------------------------------------------------------------------------------ options, output

# The kit's BenchmarkOptions.LinearShapes: flan-t5-small's output layer and feed-forward while decoding a batch of 8,
# and the feed-forward over an encoder batch of 8 x 128 tokens.
LINEAR_SHAPES = [("lm_head, decoding batch 8", 8, 512, 32128), ("feed-forward wi, decoding batch 8", 8, 512, 1024),
                 ("feed-forward wi, encoder 8 x 128 tokens", 1024, 512, 1024)]

def options(quick):
    """The kit's BenchmarkOptions.Full() and Quick() (recompute generation and the offline policy are not mirrored)."""
    if not quick:
        return NS(quick=False, warmup=1, reps=3, matmul_sizes=[1024, 2048], linear_shapes=LINEAR_SHAPES,
                  gen_model=t5_config(), gen_name="flan-t5-small shape (random weights)", gen_batch=8, prompt_tokens=128,
                  new_tokens=[32, 64, 128], ppo_model=t5_config(), ppo_name="flan-t5-small shape (random weights)",
                  ppo=dict(batch=8, mini_batch=1, grad_accum=4, epochs=4, lr=2e-5), ppo_prompt=512, ppo_new=48, ppo_steps=1,
                  reward_model=roberta_config(), reward_name="roberta-base shape (random weights)", reward_texts=64,
                  reward_min_tokens=12, reward_max_tokens=402, reward_batch=16, reward_reps=2)
    return NS(quick=True, warmup=1, reps=3, matmul_sizes=[256, 512], linear_shapes=[(n, m, k, v // 8) for n, m, k, v in LINEAR_SHAPES[:2]],
              gen_model=t5_config(vocab_size=4096, d_model=256, d_kv=32, d_ff=512, num_layers=4, num_heads=8),
              gen_name="small T5 (random weights)", gen_batch=4, prompt_tokens=64, new_tokens=[16, 32],
              ppo_model=t5_config(vocab_size=512, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4),
              ppo_name="tiny T5 (random weights)", ppo=dict(batch=4, mini_batch=2, grad_accum=1, epochs=2, lr=2e-5),
              ppo_prompt=32, ppo_new=8, ppo_steps=1,
              reward_model=roberta_config(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                          intermediate_size=128),
              reward_name="tiny RoBERTa (random weights)", reward_texts=16, reward_min_tokens=7, reward_max_tokens=82,
              reward_batch=4, reward_reps=3)

def blas_details():
    """The BLAS library torch loaded; for OpenBLAS its build line and the kernels it picked (e.g. Cooperlake = AVX-512)."""
    libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and l.split()[-1].startswith("/")})
    for path in (p for p in libs if "openblas" in os.path.basename(p)):
        lib = ctypes.CDLL(path)
        lib.openblas_get_config.restype = lib.openblas_get_corename.restype = ctypes.c_char_p
        return libs, f"{lib.openblas_get_config().decode()}; kernels {lib.openblas_get_corename().decode()}"
    if any(p.endswith("/blas/libblas.so.3") for p in libs):
        return libs, "reference (netlib) BLAS: about 15x slower than OpenBLAS; install libopenblas0-openmp (README.md)"
    return libs, "?"

def machine_info(o, default_threads):
    cpuinfo = open("/proc/cpuinfo").read().splitlines()
    field = lambda l: l.split(":", 1)[1].strip()
    sockets = [field(l) for l in cpuinfo if l.startswith("physical id")]
    cores = {(s, field(l)) for s, l in zip(sockets, (l for l in cpuinfo if l.startswith("core id")))}
    libs, blas = blas_details()
    return {"cpu": next((field(l) for l in cpuinfo if l.startswith("model name")), platform.machine()),
            "logical_cpus": os.cpu_count(), "physical_cores": len(cores) or os.cpu_count(),
            "default_torch_threads": default_threads, "threads": torch.get_num_threads(),
            "os": platform.platform(), "python": sys.version.split()[0], "python_executable": sys.executable,
            "torch": torch.__version__, "blas_library": libs, "blas_config": blas,
            "cpu_capability": next((l.split(":")[1].strip() for l in torch.__config__.show().splitlines()
                                    if "CPU capability usage" in l), "?"),  # ATen's own kernels (ATEN_CPU_CAPABILITY)
            "parallel_info": "; ".join(l.strip() for l in torch.__config__.parallel_info().splitlines() if l.strip()),
            "device": "cpu", "load_average": float(open("/proc/loadavg").read().split()[0]), "quick": o.quick,
            "warmup": o.warmup, "repetitions": o.reps, "started_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())}

def markdown(r):
    m, out = r["machine"], []
    row = lambda cells: "| " + " | ".join(cells) + " |"
    table = lambda head, rows: [row(head), "|" + "---:|" * len(head)] + [row(x) for x in rows] + [""]
    out += [f"## PyTorch eager baseline, transformers/TRL-shaped{' (quick sizes)' if m['quick'] else ''}", "",
            f"CPU: {m['cpu']}, {m['physical_cores']} physical cores / {m['logical_cpus']} logical; torch {m['torch']} (Python "
            f"{m['python']}), threads {m['threads']} (default {m['default_torch_threads']}), ATen kernels {m['cpu_capability']}; "
            f"BLAS: {m['blas_config']}; load "
            f"average {m['load_average']:.2f} at the start, {m['load_average_at_end']:.2f} at the end. Median of "
            f"{m['repetitions']} timed runs after {m['warmup']} warm-up; {m['started_utc']}; whole run {r['total_seconds']:.0f} s.", ""]
    if r["matmul"]:
        out += ["### float32 matmul (2n³ FLOP)", ""] + table(["n", "threads", "ms per product", "GFLOP/s"],
               [[str(x["n"]), str(x["threads"]), f"{x['median_seconds'] * 1e3:.2f}", f"{x['gflops']:.1f}"] for x in r["matmul"]])
    if r.get("linear"):
        out += ["### Linear layers at the models' shapes (y = x·Wᵀ, 2mkn FLOP)", ""] + table(
            ["shape", "x", "W", "threads", "ms", "GFLOP/s"],
            [[x["name"], f"{x['m']}×{x['k']}", f"{x['n']}×{x['k']}", str(x["threads"]), f"{x['median_seconds'] * 1e3:.3f}", f"{x['gflops']:.1f}"] for x in r["linear"]])
    if r["generation"]:
        g = r["generation"][0]
        out += ["### Generation: sampling with the key/value cache (transformers' sample loop)", "",
                f"**{g['model']}**: {g['parameters'] / 1e6:.2f}M parameters, batch {g['batch']}, prompt {g['prompt_tokens']} "
                f"tokens, eos masked; encoder pass {g['encoder_seconds'] * 1e3:.1f} ms.", ""]
        out += table(["new tokens", "cached s", "cached tok/s", "cached ms/step", "model GFLOP", "cached GFLOP/s", "% of matmul peak"],
                     [[str(x["new_tokens"]), f"{x['cached_seconds']:.3f}", f"{x['cached_tokens_per_second']:.1f}",
                       f"{x['cached_ms_per_step']:.2f}", f"{x['model_gflop']:.1f}", f"{x['cached_gflops']:.2f}",
                       f"{100 * x['cached_fraction_of_peak']:.1f}%"] for x in r["generation"]])
        out += [f"Model FLOPs = {FLOP_FORMULA}. ms/step = (total - encoder pass) / new tokens.", ""]
    if r["ppo"]:
        p = r["ppo"]
        out += ["### PPO update core (TRL-shaped)", "",
                f"Policy {p['model']} + value head ({p['policy_parameters'] / 1e6:.2f}M) and a frozen reference; batch {p['batch']}, "
                f"prompts {p['prompt_tokens']} tokens, {p['new_tokens']} response tokens; minibatch {p['mini_batch']} x "
                f"{p['gradient_accumulation_steps']} accumulation steps, {p['ppo_epochs']} epochs ({p['forward_backward_passes']} "
                f"forward+backward passes, {p['optimizer_steps']} Adam steps); {p['measured_steps']} step after a warm-up step.", ""]
        out += table(["phase", "seconds"], [[k, f"{v:.2f}"] for k, v in p["phase_seconds"].items()])
        out += [f"Peak RSS **{p['peak_memory_bytes'] / 2 ** 20:.0f} MiB** (VmHWM reset per phase: " +
                ", ".join(f"{k} {v / 2 ** 20:.0f} MiB" for k, v in p["peak_memory_by_phase_bytes"].items()) +
                f"); {p['models_memory_bytes'] / 2 ** 20:.0f} MiB with the models built (Adam state comes with the first "
                f"step). {p['memory_note']}.", ""]
    if r["reward"]:
        w = r["reward"]
        out += ["### Reward scoring (inference_mode)", "",
                f"{w['model']}, {w['texts']} texts of {w['min_tokens']}-{w['max_tokens']} tokens ({w['token_lengths_source']}), "
                f"batch {w['batch_size']}, {w['real_tokens']} real tokens; median of {w['repetitions']} runs each.", ""]
        out += table(["batching", "tokens processed (with padding)", "seconds", "texts/s"],
                     [[label, str(w[f"{k}_padded_tokens"]), f"{w[f'{k}_seconds']:.2f}", f"{w[f'{k}_texts_per_second']:.2f}"]
                      for label, k in (("length-sorted", "sorted"), ("input order", "unsorted"))])
        out += [f"Sorting by length: {w['sorting_speedup']:.2f}x.", ""]
    return "\n".join(out)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only the parity check against the transformers fixtures")
    ap.add_argument("--quick", action="store_true", help="small shapes: seconds")
    ap.add_argument("--sections", default="matmul,generation,ppo,reward")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2, the kit's default here)")
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "pytorch-bench"))
    ap.add_argument("--reward-lengths-from", metavar="BENCH_JSON", help="the kit's bench.json, for its reward.token_lengths")
    ap.add_argument("--fixtures", default=os.environ.get("WORKSHOP_FIXTURES",
                                                         os.path.join(ROOT, "tests/RlhfKit.Tests/fixtures/hf-reference")))
    a = ap.parse_args()
    sections = [s.strip().lower() for s in a.sections.split(",") if s.strip()]
    if set(sections) - {"matmul", "generation", "ppo", "reward"}:
        ap.error(f"unknown sections in {a.sections}; known: matmul, generation, ppo, reward")
    total, default_threads, log = time.perf_counter(), torch.get_num_threads(), lambda s: print(s, flush=True)
    torch.set_num_threads(a.threads)

    results = check(a.fixtures)  # first: the timings only count if the model code computes what transformers does
    log("check passed (max abs diff): " + ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in results.items()))
    if a.check:
        return
    o = options(a.quick)
    report = {"baseline": "plain eager PyTorch written as transformers 4.36 (T5, RoBERTa, generate) and TRL 0.7 (PPO) compute",
              "machine": machine_info(o, default_threads), "check_max_abs_diff": results,
              "matmul": [], "linear": [], "generation": [], "ppo": None, "reward": None}
    m = report["machine"]
    log(f"torch {m['torch']}, threads {m['threads']} (default {m['default_torch_threads']}), BLAS: {m['blas_config']}, "
        f"load average {m['load_average']}")
    if m["blas_config"].startswith("reference"):
        print("warning: " + m["blas_config"], file=sys.stderr)
    if "matmul" in sections:
        report["matmul"] = bench_matmul(o, log)
        report["linear"] = bench_linear(o, log)
    if "generation" in sections:
        peak = max((x["gflops"] for x in report["matmul"] if x["threads"] == torch.get_num_threads()), default=0)
        peak = peak or bench_matmul(NS(**{**vars(o), "matmul_sizes": [max(o.matmul_sizes)]}), log, False)[0]["gflops"]
        report["generation"] = bench_generation(o, peak, log)
    if "ppo" in sections:
        report["ppo"] = bench_ppo(o, log)
    if "reward" in sections:
        report["reward"] = bench_reward(o, *reward_lengths(o, a.reward_lengths_from), log)
    m["load_average_at_end"] = float(open("/proc/loadavg").read().split()[0])
    report["total_seconds"] = time.perf_counter() - total
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "pytorch_bench.json"), "w") as f: json.dump(report, f, indent=2)
    with open(os.path.join(a.out, "pytorch_bench.md"), "w") as f: f.write(markdown(report))
    log(f"wrote {os.path.join(a.out, 'pytorch_bench.json')} and pytorch_bench.md ({report['total_seconds']:.0f} s)")

if __name__ == "__main__":
    main()
