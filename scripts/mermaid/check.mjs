// Parses each Mermaid file given with Mermaid itself (mermaid.parse, the parser its renderer
// uses), jsdom standing in for the browser's DOM. Prints one line per file it rejects; exit 1 then.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });
let rejected = 0;
for (const file of process.argv.slice(2)) {
  try {
    await mermaid.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    rejected += 1;
    console.log(`${file}: ${String(e.message).split('\n').slice(0, 4).join(' | ')}`);
  }
}
console.log(`mermaid: checked ${process.argv.length - 2}, ${rejected} rejected`);
process.exit(rejected ? 1 : 0);
