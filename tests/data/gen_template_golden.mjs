// gen_template_golden.mjs: token ids LLaMA-Factory would produce for a few
// conversations with the qwen / llama3 / llama2 templates, using HF's own
// tokenizer (npm `tokenizers`, the Rust core of transformers' fast tokenizers).
// Element lists are written out by hand from the templates in
// shared/reference/llamafactory.md §4.2: each string element is encoded on
// its own (add_special_tokens=false), bos/eos are inserted as ids.
// Usage: TOKENIZERS_NODE_MODULES=/path/to/node_modules (default /tmp/node_modules) node tests/data/gen_template_golden.mjs > tests/fixtures/data/template_ids_golden.json
import { createRequire } from "module";
import { readFileSync } from "fs";
const NM = process.env.TOKENIZERS_NODE_MODULES || "/tmp/node_modules";
const require = createRequire(NM + "/");
const { Tokenizer } = require("tokenizers");

const M = new URL("../fixtures/models/", import.meta.url).pathname;
const convs = [
  { system: "", messages: ["你好，请介绍一下你自己。", "我是一个助手。"] },
  { system: "You are a helpful assistant.", messages: ["What is LoRA?", " Low-rank adaptation.\n", "And QLoRA?", "LoRA on a 4-bit base."] },
  { system: "现在你要扮演皇帝身边的女人--甄嬛", messages: ["小姐，别的秀女都在求中选", "嘘——都说许愿说破是不灵的。", "那怎么办？", "  "] },
];
const QWEN_SYS = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
const T = {
  qwen: (sys, i, role, c) => [
    ...(i === 0 ? ["<|im_start|>system\n" + (sys || QWEN_SYS) + "<|im_end|>\n"] : []),
    role === "user" ? "<|im_start|>user\n" + c + "<|im_end|>\n<|im_start|>assistant\n" : c + "<|im_end|>\n"],
  llama3: (sys, i, role, c) => [
    ...(i === 0 ? [{ bos: 1 }] : []),
    ...(i === 0 && sys ? ["<|start_header_id|>system<|end_header_id|>\n\n" + sys + "<|eot_id|>"] : []),
    role === "user" ? "<|start_header_id|>user<|end_header_id|>\n\n" + c + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                    : c + "<|eot_id|>"],
  llama2: (sys, i, role, c) => role === "user"
    ? [{ bos: 1 }, "[INST] " + (i === 0 && sys ? "<<SYS>>\n" + sys + "\n<</SYS>>\n\n" : "") + c + " [/INST]"]
    : [c, { eos: 1 }],
};
const cases = [["qwen2-tiny", "qwen"], ["llama3-tiny", "llama3"], ["llama-tiny", "llama2"]];
const out = { source: "npm tokenizers " + JSON.parse(readFileSync(NM + "/tokenizers/package.json", "utf8")).version, cases: [] };
for (const [model, tmpl] of cases) {
  const tok = await Tokenizer.fromFile(M + model + "/tokenizer.json");
  const cfg = (() => { try { return JSON.parse(readFileSync(M + model + "/tokenizer_config.json", "utf8")); } catch { return {}; } })();
  const bos = cfg.bos_token ? tok.tokenToId(cfg.bos_token) : null;
  const eos = tmpl === "llama3" ? tok.tokenToId("<|eot_id|>") : cfg.eos_token ? tok.tokenToId(cfg.eos_token) : null;
  for (const cv of convs) {
    const ids = [];
    for (let i = 0; i < cv.messages.length; i++) {
      for (const el of T[tmpl](cv.system, i, i % 2 ? "assistant" : "user", cv.messages[i])) {
        if (el.bos) { if (bos !== null) ids.push(bos); continue; }
        if (el.eos) { if (eos !== null) ids.push(eos); continue; }
        if (el.length) ids.push(...(await tok.encode(el, null, { addSpecialTokens: false })).getIds());
      }
    }
    out.cases.push({ model, template: tmpl, system: cv.system, messages: cv.messages, ids });
  }
}
console.log(JSON.stringify(out));
