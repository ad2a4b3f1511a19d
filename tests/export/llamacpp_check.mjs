// llamacpp_check.mjs: whet's GGUF files in real llama.cpp (the prebuilt
// libllama of the npm package node-llama-cpp, pinned in the root
// package.json), run by tests/export/test_llamacpp_gguf.c.
// For each model folder and each GGUF type it exports the file with
// `whet convert`, then in llama.cpp:
//   - loads it (must succeed);
//   - tokenizes a few strings (parse special tokens, add BOS/EOS as the
//     file's add_bos/add_eos say) and checks the ids equal `whet tokenize`
//     on the same .gguf and on the Hugging Face folder;
//   - runs greedy decoding (temperature 0, N new tokens) from a prompt and
//     compares the ids with `whet generate --temperature 0` on the same .gguf:
//     identical for f32 and f16; for the quantized types (same weights,
//     different kernels: llama.cpp quantizes activations to q8 for its dots)
//     the common prefix is printed and at least QUANT_MIN_PREFIX must match.
// (and llama.cpp retypes no token as control while loading it),
// and, for every LoRA GGUF the C test wrote (<model>-lora-<type>.gguf in
// WORKDIR), greedy decoding of the f32 base + that adapter in llama.cpp vs
// `whet generate --adapter_name_or_path` with the same two files.
// Usage: node llamacpp_check.mjs WHET_BINARY WORKDIR Q8_0_MIN Q4_K_M_MIN NAME=HF_DIR [NAME=HF_DIR ...]
// (the two bounds come from tests/tolerances.h, LLAMACPP_*_MIN_PREFIX).
// Prints "ok ..." / "not ok ..." lines; exit 0 all passed, 1 a check failed,
// 77 node-llama-cpp cannot be loaded (not installed: `npm ci` at the repo root).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

let nlc;
try {
  nlc = await import("node-llama-cpp");
} catch (e) {
  console.log(`skip: node-llama-cpp cannot be loaded (${e.message.split("\n")[0]}); run npm ci in the repo root`);
  process.exit(77);
}
const { getLlama, LlamaLogLevel } = nlc;

const [whet, workdir, q8Min, q4kmMin, ...models] = process.argv.slice(2);
if (!whet || !workdir || !(Number(q8Min) > 0) || !(Number(q4kmMin) > 0) || models.length === 0) {
  console.log("usage: node llamacpp_check.mjs WHET_BINARY WORKDIR Q8_0_MIN Q4_K_M_MIN NAME=HF_DIR ...");
  process.exit(2);
}
const TYPES = ["f32", "f16", "q8_0", "q4_k_m"];
const EXACT = new Set(["f32", "f16"]);
// Tokens of the greedy continuation that must agree for q8_0 / q4_k_m.
const QUANT_MIN_PREFIX = { q8_0: Number(q8Min), q4_k_m: Number(q4kmMin) };
const N_NEW = 16;
const PROMPT = "Once upon a time, there was a little";
const TEXTS = [
  "Hello world",
  " leading space and  two  spaces",
  "Once upon a time, there was a little girl named Lily. She loved to play outside.",
  "line one\nline two\n\n\ttabbed",
  "Unicode: café naïve 日本語 🙂",
  "numbers 12345 and 3.14159",
  "<|im_start|>user\nHi!<|im_end|>\n",
];
// Special tokens written in the text: llama.cpp must tokenize them as whet
// does on the same .gguf. The HF folder can differ: when the specials are
// "normalized" added tokens behind a Prepend("▁") normalizer (stories260K-hf),
// HF matches " </s>" after normalizing (the space goes into the special),
// while the GGUF vocabulary has "</s>" as a CONTROL token, which llama.cpp
// matches in the raw text and leaves the space as "▁". Printed, not asserted.
const SPECIAL_TEXT = "Hi </s> there<s>!";

let failed = 0;
const ok = (cond, what) => {
  console.log(`${cond ? "ok" : "not ok"} ${what}`);
  if (!cond) failed++;
  return cond;
};

function runWhet(args) {
  const r = spawnSync(whet, args, { encoding: "utf8", env: { ...process.env, WHET_NUM_THREADS: "2" } });
  if (r.status !== 0) throw new Error(`whet ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
// `whet tokenize` / `whet generate --prompt_ids` print the ids as one comma-separated line.
const ids = (line) => (line.trim() === "" ? [] : line.trim().split(",").map(Number));
const whetTokenize = (model, text) => ids(runWhet(["tokenize", "--model_name_or_path", model, "--text", text]).split("\n")[0]);
const whetGreedy = (model, promptIds, adapter) =>
  ids(runWhet(["generate", "--model_name_or_path", model, "--prompt_ids", promptIds.join(","),
               "--max_new_tokens", String(N_NEW), "--temperature", "0", "--threads", "2",
               ...(adapter ? ["--adapter_name_or_path", adapter] : [])]).split("\n")[0]);
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const prefix = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };

// llama.cpp's warnings while a file loads: printed; "control-looking token ... was not
// control-type" (a token type convert_hf_to_gguf would have written CONTROL) fails the file.
let warnings = [];
const llama = await getLlama({
  build: "never", gpu: false, logLevel: LlamaLogLevel.warn, progressLogs: false,
  logger: (level, msg) => { if (level === LlamaLogLevel.warn || level === LlamaLogLevel.error) warnings.push(msg.trim()); },
});
console.log(`# llama.cpp ${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release} (node-llama-cpp prebuilt, cpu)`);

// llama.cpp's tokenization as llama_tokenize(add_special = true, parse_special = true).
function llamaTokenize(model, text) {
  const t = model.tokenize(text, true);
  const bos = model.tokens.bos, eos = model.tokens.eos;
  return [...(model.tokens.shouldPrependBosToken && bos != null ? [bos] : []), ...t,
          ...(model.tokens.shouldAppendEosToken && eos != null ? [eos] : [])];
}

// Greedy continuation of promptIds: N_NEW tokens, stopping after an end-of-generation token as whet does.
async function llamaGreedy(model, promptIds, lora) {
  const ctx = await model.createContext({ contextSize: 256, batchSize: 256, threads: 2, sequences: 1,
                                          ...(lora ? { lora: { adapters: [{ filePath: lora }] } } : {}) });
  const out = [];
  try {
    for await (const t of ctx.getSequence().evaluate(promptIds, { temperature: 0 })) {
      out.push(t);
      if (out.length >= N_NEW || model.isEogToken(t)) break;
    }
  } finally {
    await ctx.dispose();
  }
  return out;
}

const report = [];
for (const spec of models) {
  const [name, hf] = spec.split("=");
  for (const type of TYPES) {
    const gguf = path.join(workdir, `${name}-${type}.gguf`);
    runWhet(["convert", "--model_name_or_path", hf, "--outtype", type, "--outfile", gguf, "--overwrite_output_dir"]);
    let model;
    warnings = [];
    try {
      model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0, useMmap: false });
    } catch (e) {
      ok(false, `${name} ${type}: llama.cpp loads ${gguf}: ${e.message}`);
      continue;
    }
    ok(true, `${name} ${type}: llama.cpp loads the file`);
    for (const w of warnings) console.log(`# ${name} ${type}: llama.cpp warns: ${w}`);
    const bad = warnings.filter((w) => w.includes("was not control-type") || w.includes("not in special_eog_ids"));
    ok(bad.length === 0, `${name} ${type}: no token llama.cpp retypes as control, eos among the end-of-generation ids` +
       (bad.length ? `: ${bad.join("; ")}` : ""));
    if (type === "f32" || type === "q8_0") { // the vocabulary is the same bytes in every type; two suffice
      for (const text of TEXTS) {
        const l = llamaTokenize(model, text), g = whetTokenize(gguf, text), h = whetTokenize(hf, text);
        ok(same(l, g) && same(l, h), `${name} ${type}: tokenize ${JSON.stringify(text)}` +
           (same(l, g) && same(l, h) ? "" : `: llama.cpp ${l} whet(gguf) ${g} whet(hf) ${h}`));
      }
      const l = llamaTokenize(model, SPECIAL_TEXT), g = whetTokenize(gguf, SPECIAL_TEXT), h = whetTokenize(hf, SPECIAL_TEXT);
      ok(same(l, g), `${name} ${type}: tokenize ${JSON.stringify(SPECIAL_TEXT)} as whet on the .gguf` +
         (same(l, g) ? "" : `: llama.cpp ${l} whet(gguf) ${g}`));
      if (!same(l, h)) console.log(`# ${name}: ${JSON.stringify(SPECIAL_TEXT)} is ${l} in the .gguf, ${h} with the HF folder`);
    }
    const p = llamaTokenize(model, PROMPT);
    const l = await llamaGreedy(model, p);
    const w = whetGreedy(gguf, p);
    const k = prefix(l, w);
    report.push(`${name} ${type}: ${k}/${Math.max(l.length, w.length)}`);
    if (EXACT.has(type))
      ok(same(l, w), `${name} ${type}: greedy ${N_NEW} tokens identical` + (same(l, w) ? "" : `: llama.cpp ${l} whet ${w}`));
    else
      ok(same(l, w) || k >= QUANT_MIN_PREFIX[type], `${name} ${type}: greedy common prefix ${k} >= ${QUANT_MIN_PREFIX[type]}` +
         ` (llama.cpp ${l} whet ${w})`);
    const lora = path.join(workdir, `${name}-lora-f32.gguf`);
    if (type === "f32") {
      for (const lt of ["f32", "f16", "q8_0"]) {
        const lf = path.join(workdir, `${name}-lora-${lt}.gguf`);
        if (!existsSync(lf)) continue;
        const la = await llamaGreedy(model, p, lf);
        const wa = whetGreedy(gguf, p, lf);
        ok(same(la, wa), `${name} f32 + LoRA ${lt}: greedy ${N_NEW} tokens identical` + (same(la, wa) ? "" : `: llama.cpp ${la} whet ${wa}`));
        ok(!same(la, l) || !existsSync(lora), `${name} f32 + LoRA ${lt}: the adapter changes the output (${la} vs ${l})`);
      }
    }
    await model.dispose();
  }
}
console.log("# greedy common prefix llama.cpp vs whet (tokens): " + report.join(", "));
await llama.dispose();
process.exit(failed ? 1 : 0);
