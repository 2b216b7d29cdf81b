// Prints line coverage per module of src/ and for the groups with targets, from the JSON
// summary of `cargo llvm-cov report --json --summary-only` (run by scripts/coverage.sh).
//
// Usage: node scripts/coverage-summary.mjs SUMMARY.json SRC_DIR
// COVERAGE_STRICT=1 makes a missed target exit 1.
import { readFileSync } from 'node:fs';

const [summaryPath, srcDir] = process.argv.slice(2);
const report = JSON.parse(readFileSync(summaryPath, 'utf8'));

// Source files of the crate, as paths relative to src/ with their line counts.
const files = report.data
  .flatMap((export_) => export_.files)
  .filter((file) => file.filename.startsWith(srcDir))
  .map((file) => ({
    path: file.filename.slice(srcDir.length),
    count: file.summary.lines.count,
    covered: file.summary.lines.covered,
  }));

// A module: a directory under src/ (routes/ split into its sub-modules), or a top-level file.
function moduleOf(path) {
  const parts = path.split('/');
  if (parts.length === 1) return parts[0];
  if (parts[0] === 'routes' && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

// The browser UI: rendered by the server, its handlers run in the browser (Playwright).
const isUi = (path) => path.startsWith('app/');
const webhookPath = new Set([
  'services/webhooks.rs',
  'services/webhook_targets.rs',
  'services/execution_writer.rs',
  'services/schemas.rs',
  'db/deliveries.rs',
  'db/jsonb.rs',
]);

const groups = [
  { name: 'server code (src/ without app/)', target: 80, test: (p) => !isUi(p) },
  { name: 'crypto/', target: 90, test: (p) => p.startsWith('crypto/') },
  {
    name: 'webhook route and its services',
    target: 90,
    test: (p) => p.startsWith('routes/webhook/') || webhookPath.has(p),
  },
  { name: 'all of src/ (UI included)', target: null, test: () => true },
];

function sum(selected) {
  const count = selected.reduce((n, f) => n + f.count, 0);
  const covered = selected.reduce((n, f) => n + f.covered, 0);
  return { count, covered, percent: count === 0 ? 100 : (100 * covered) / count };
}

const pad = (text, width) => String(text).padEnd(width);
const row = (name, { count, covered, percent }) =>
  `${pad(name, 34)} ${String(covered).padStart(6)} / ${String(count).padEnd(6)} ${percent.toFixed(1).padStart(5)}%`;

console.log('Line coverage of src/ from the Rust tests (covered / lines)\n');
const modules = [...new Set(files.map((f) => moduleOf(f.path)))].sort();
for (const module of modules) {
  const name = isUi(`${module}/`) ? `${module}/ (browser UI)` : module.endsWith('.rs') ? module : `${module}/`;
  console.log(row(name, sum(files.filter((f) => moduleOf(f.path) === module))));
}

console.log('');
let missed = 0;
for (const group of groups) {
  const total = sum(files.filter((f) => group.test(f.path)));
  let verdict = '';
  if (group.target !== null) {
    const met = total.percent >= group.target;
    if (!met) missed += 1;
    verdict = `  target ≥ ${group.target}%: ${met ? 'met' : 'MISSED'}`;
  }
  console.log(row(group.name, total) + verdict);
}
if (missed > 0 && process.env.COVERAGE_STRICT === '1') process.exit(1);
