// llamacpp_decode.mjs: llama.cpp's CPU inference speed on GGUF files, batch 1,
// measured as bench/bench_forward.c measures whet, to print side by side:
// prefill tokens/s (one batch over a prompt of --prompt seeded random token
// ids) and decode tokens/s (one token per step, greedy, the --decode - 1 steps
// after the first token, which comes from the prefill), best of --repeat
// runs, one markdown row per file in bench_forward's table format. llama.cpp
// is node-llama-cpp's prebuilt CPU libllama (root package.json: `npm ci`);
// it never builds or downloads anything (build: "never").
//
//   node bench/llamacpp_decode.mjs [--threads 2] [--prompt 128] [--decode 32] [--repeat 3]
//        [--name NAME] [--header] F1.gguf [F2.gguf ...]
//
// e.g. after `build/bench_forward --shape qwen2.5-0.5b --gguf q8_0,q4_k_m --keep /tmp/q05`:
//   node bench/llamacpp_decode.mjs --header --name "qwen2.5-0.5b-shaped (random)" /tmp/q05/*.gguf
import path from "node:path";

const a = { threads: 2, prompt: 128, decode: 32, repeat: 3, name: null, header: false, files: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i];
  if (k === "--header") a.header = true;
  else if (["--threads", "--prompt", "--decode", "--repeat"].includes(k)) a[k.slice(2)] = Number(argv[++i]);
  else if (k === "--name") a.name = argv[++i];
  else if (k.startsWith("--")) { console.error(`llamacpp_decode: unknown flag ${k} (see the header of this file)`); process.exit(2); }
  else a.files.push(k);
}
if (a.files.length === 0 || !(a.threads >= 1 && a.prompt >= 1 && a.decode >= 2 && a.repeat >= 1)) {
  console.error("llamacpp_decode: need F.gguf, --threads >= 1, --prompt >= 1, --decode >= 2, --repeat >= 1");
  process.exit(2);
}

let nlc;
try {
  nlc = await import("node-llama-cpp");
} catch (e) {
  console.error(`llamacpp_decode: node-llama-cpp cannot be loaded (${e.message.split("\n")[0]}); run npm ci in the repo root`);
  process.exit(77);
}
const { getLlama, LlamaLogLevel } = nlc;

// llama.cpp's LLAMA_FTYPE_MOSTLY_* (general.file_type) by the names whet's --gguf / gguf_type use.
const FTYPE = { 0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_k", 11: "q3_k_s",
                12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m", 16: "q5_k_s", 17: "q5_k_m", 18: "q6_k", 32: "bf16" };

let cpuVariant = "cpu";
const llama = await getLlama({
  build: "never", gpu: false, progressLogs: false, logLevel: LlamaLogLevel.debug,
  logger: (level, msg) => {
    const m = /loaded CPU backend from .*libggml-cpu-([a-z0-9_]+)\.so/.exec(msg);
    if (m) cpuVariant = m[1];
    else if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) console.error(msg);
  },
});
const release = llama.llamaCppRelease.release;

// Seeded ids (mulberry32), as bench_forward draws its prompt from a seeded rng.
function randomIds(n, vocab, seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => Math.floor(next() * vocab));
}

if (a.header) {
  console.log("| model | weights | kernels | threads | prompt | prefill tok/s | decode tok/s (after prompt) |");
  console.log("|---|---|---|---|---|---|---|");
}
for (const file of a.files) {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  llama.logLevel = LlamaLogLevel.warn; // debug was for the backend line: per-token debug logs slow decode
  const meta = model.fileInfo.metadata;
  const vocab = meta.tokenizer?.ggml?.tokens?.length ?? model.tokens.bos + 1;
  const ftype = FTYPE[meta.general?.file_type] ?? `file_type ${meta.general?.file_type}`;
  const ctx = await model.createContext({ contextSize: a.prompt + a.decode + 8, batchSize: a.prompt, threads: a.threads,
                                          sequences: 1 });
  const seq = ctx.getSequence();
  const prompt = randomIds(a.prompt, vocab, 7);
  let prefill = 0, decode = 0;
  for (let rep = 0; rep < a.repeat; rep++) {
    await seq.clearHistory();
    const t0 = performance.now();
    let t1 = 0, n = 0;
    for await (const _ of seq.evaluate(prompt, { temperature: 0 })) {
      if (++n === 1) t1 = performance.now();
      if (n >= a.decode) break;
    }
    const t2 = performance.now();
    prefill = Math.max(prefill, a.prompt / ((t1 - t0) / 1e3));
    decode = Math.max(decode, (n - 1) / ((t2 - t1) / 1e3));
  }
  const name = a.name ?? path.basename(file);
  console.log(`| ${name} | GGUF ${ftype} | llama.cpp ${release} ${cpuVariant} | ${a.threads} | ${a.prompt} | ` +
              `${prefill.toFixed(1)} | ${decode.toFixed(1)} |`);
  await ctx.dispose();
  await model.dispose();
}
await llama.dispose();
