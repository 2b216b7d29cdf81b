// Signed, distinct webhook deliveries for scripts/bench.sh: every body carries its own
// delivery id (also sent as X-GitHub-Delivery), so every request creates an execution and
// the bench can reconcile each 202 with its execution by id.
//
//   node scripts/bench-bodies.mjs SECRET TEMPLATE_FILE COUNT FILES PREFIX
//
// Writes FILES files PREFIX-1.txt ... (one per wrk thread), COUNT lines in all, each
// "<hex HMAC-SHA256 of the body keyed with SECRET's text>\t<delivery id>\t<body>".
// TEMPLATE_FILE is the body with @ID@ where the delivery id goes.
import { createHmac, randomUUID } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

const [secret, templateFile, count, files, prefix] = process.argv.slice(2);
const template = readFileSync(templateFile, "utf8");
const perFile = Math.ceil(Number(count) / Number(files));
for (let file = 1; file <= Number(files); file++) {
  const fd = openSync(`${prefix}-${file}.txt`, "w");
  let chunk = "";
  for (let n = 0; n < perFile; n++) {
    const id = randomUUID();
    const body = template.replace("@ID@", id);
    const signature = createHmac("sha256", secret).update(body).digest("hex");
    chunk += `${signature}\t${id}\t${body}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = "";
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}
