// tokenizer_baseline.js: the HF side of bench_tokenizer: Hugging Face
// tokenizers' Rust core through its Node binding (npm `tokenizers`) on the
// same strings as bench/bench_tokenizer.c (every string field of
// alpaca_en_demo.json, alpaca_zh_demo.json, huanhuan.json), one thread
// (TOKENIZERS_PARALLELISM=false), best of --repeat runs: the whole text in one
// encode call, and one call per string. It also checks that the ids of the
// whole text equal what whet printed (the "ids" column).
//   npm install --prefix /tmp tokenizers@0.23.2
//   TOKENIZERS_PARALLELISM=false NODE_PATH=/tmp/node_modules node bench/tokenizer_baseline.js \
//       [--tokenizer DIR]... [--data DIR] [--repeat 3]
'use strict';
process.env.TOKENIZERS_PARALLELISM = 'false';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const shared = process.env.WHET_SHARED_DIR || '/work/shared';
const args = process.argv.slice(2);
const dirs = [];
let dataDir = path.join(shared, 'data');
let repeat = 3;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tokenizer') dirs.push(args[++i]);
  else if (args[i] === '--data') dataDir = args[++i];
  else if (args[i] === '--repeat') repeat = Math.max(1, parseInt(args[++i], 10));
  else { console.error('usage: tokenizer_baseline.js [--tokenizer DIR]... [--data DIR] [--repeat N]'); process.exit(2); }
}
if (dirs.length === 0) {
  dirs.push(path.join(shared, 'models/tokenizers/qwen2.5'));
  dirs.push(path.join(shared, 'models/tokenizers/llama3'));
}

const texts = [];
for (const f of ['llamafactory/alpaca_en_demo.json', 'llamafactory/alpaca_zh_demo.json', 'huanhuan/huanhuan.json']) {
  for (const rec of JSON.parse(fs.readFileSync(path.join(dataDir, f), 'utf8'))) {
    for (const v of Object.values(rec)) if (typeof v === 'string' && v.length > 0) texts.push(v);
  }
}
const joined = texts.map((s) => s + '\n').join('');
const bytes = texts.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
const joinedBytes = Buffer.byteLength(joined, 'utf8');

async function main() {
  console.log(`text: ${texts.length} strings, ${bytes} bytes (joined with newlines: ${joinedBytes} bytes); best of ${repeat}, one thread`);
  console.log(`tokenizers (npm) ${require('tokenizers/package.json').version}\n`);
  console.log('| tokenizer | whole MB/s | each MB/s | ids |');
  console.log('|---|---|---|---|');
  for (const dir of dirs) {
    const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    let bestWhole = Infinity, bestEach = Infinity, nIds = 0;
    for (let r = 0; r < repeat; r++) {
      let t0 = process.hrtime.bigint();
      const enc = await tok.encode(joined, null, { addSpecialTokens: false });
      let dt = Number(process.hrtime.bigint() - t0) / 1e9;
      nIds = enc.getIds().length;
      bestWhole = Math.min(bestWhole, dt);
      t0 = process.hrtime.bigint();
      for (const s of texts) await tok.encode(s, null, { addSpecialTokens: false });
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
      bestEach = Math.min(bestEach, dt);
    }
    console.log(`| ${dir} | ${(joinedBytes / 1e6 / bestWhole).toFixed(2)} | ${(bytes / 1e6 / bestEach).toFixed(2)} | ${nIds} |`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
