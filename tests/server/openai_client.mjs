// openai_client.mjs: the official `openai` npm client against a running
// whet server (started by test_openai_client.c), the way users' apps call
// it: models.list, completions and chat completions, streamed and not,
// usage, and the client's typed errors for 400 / 401 / 404.
// usage: node openai_client.mjs PORT_COMPLETIONS MODEL_C WANT_C PORT_CHAT MODEL_CHAT WANT_CHAT API_KEY
import OpenAI from 'openai';

const [portC, modelC, wantC, portChat, modelChat, wantChat, apiKey] = process.argv.slice(2);
let failures = 0;
function check(cond, what, got) {
  if (cond) { console.log(`ok   ${what}`); return; }
  failures++;
  console.log(`FAIL ${what}: ${JSON.stringify(got)}`);
}

const comp = new OpenAI({ baseURL: `http://127.0.0.1:${portC}/v1`, apiKey, maxRetries: 0 });
const chat = new OpenAI({ baseURL: `http://127.0.0.1:${portChat}/v1`, apiKey, maxRetries: 0 });
const prompt = 'Once upon a time, there was a little';

const models = await comp.models.list();
check(models.data.length === 1 && models.data[0].id === modelC, 'models.list', models.data);
const one = await comp.models.retrieve(modelC);
check(one.id === modelC && one.object === 'model', 'models.retrieve', one);

const c = await comp.completions.create({ model: modelC, prompt, max_tokens: 24, temperature: 0 });
check(c.object === 'text_completion' && c.choices[0].text === wantC, 'completions.create text', c.choices[0].text);
check(c.usage && c.usage.total_tokens === c.usage.prompt_tokens + c.usage.completion_tokens, 'completions usage', c.usage);

const s = await comp.completions.create({ model: modelC, prompt, max_tokens: 24, temperature: 0, stream: true,
                                          stream_options: { include_usage: true } });
let text = '', usage = null, chunks = 0;
for await (const ch of s) {
  chunks++;
  if (ch.choices.length) text += ch.choices[0].text;
  if (ch.usage) usage = ch.usage;
}
check(text === wantC && chunks > 2, 'completions stream text', text);
check(usage && usage.completion_tokens === c.usage.completion_tokens, 'completions stream usage', usage);

const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi!' }];
const r = await chat.chat.completions.create({ model: modelChat, messages, max_tokens: 10, temperature: 0 });
check(r.object === 'chat.completion' && r.choices[0].message.role === 'assistant' &&
      r.choices[0].message.content === wantChat, 'chat.completions.create', r.choices[0]);
check(['stop', 'length'].includes(r.choices[0].finish_reason), 'chat finish_reason', r.choices[0].finish_reason);

const rs = await chat.chat.completions.create({ model: modelChat, messages, max_tokens: 10, temperature: 0, stream: true });
let ctext = '', role = null, finish = null;
for await (const ch of rs) {
  const d = ch.choices[0]?.delta ?? {};
  if (d.role) role = d.role;
  if (d.content) ctext += d.content;
  if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason;
}
check(ctext === wantChat && role === 'assistant' && finish, 'chat stream', { ctext, role, finish });

// typed errors
try {
  await comp.completions.create({ model: 'no-such-model', prompt: 'x' });
  check(false, 'unknown model -> NotFoundError', 'no error');
} catch (e) {
  check(e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found',
        'unknown model -> NotFoundError', { status: e.status, code: e.code });
}
try {
  await comp.completions.create({ model: modelC, prompt: 'x', temperature: 'hot' });
  check(false, 'bad temperature -> BadRequestError', 'no error');
} catch (e) {
  check(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'temperature',
        'bad temperature -> BadRequestError', { status: e.status, param: e.param });
}
try {
  const bad = new OpenAI({ baseURL: `http://127.0.0.1:${portC}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await bad.models.list();
  check(false, 'wrong key -> AuthenticationError', 'no error');
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401, 'wrong key -> AuthenticationError', e.status);
}
console.log(failures ? `${failures} failed` : 'all ok');
process.exit(failures ? 1 : 0);
