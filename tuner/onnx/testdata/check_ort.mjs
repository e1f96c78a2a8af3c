// Runs fhetune's ONNX files in ONNX Runtime and compares the outputs with fhetune's own
// forward pass (fhetune model predict --json) and PyTorch's (NAME.logits.json).
//
//   npm install --ignore-scripts onnxruntime-node@1.20.1   (the CPU build ships in the package)
//   fhetune model predict --model-file tuner/onnx/testdata/fhetune_cnn.onnx \
//       --dataset npz:tuner/onnx/testdata/digits.npz --split all --json > /tmp/cnn.json
//   node tuner/onnx/testdata/check_ort.mjs /tmp/cnn.json
//
// (with onnxruntime-node installed elsewhere, copy the script there and set FIXTURES to
// this folder).
//
// It prints the largest absolute difference per model and exits 1 above 1e-4.
import ort from "onnxruntime-node";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const dir = process.env.FIXTURES || path.dirname(new URL(import.meta.url).pathname);
let worst = 0;

async function run(file, shape, rows) {
  const s = await ort.InferenceSession.create(path.join(dir, file));
  const out = [];
  for (const r of rows) {
    const t = new ort.Tensor("float32", Float32Array.from(r), shape);
    const res = await s.run({ input: t });
    out.push(Array.from(res.logits.data));
  }
  return out;
}

function compare(name, a, b) {
  let d = 0;
  a.forEach((r, i) => r.forEach((v, k) => (d = Math.max(d, Math.abs(v - b[i][k])))));
  worst = Math.max(worst, d);
  console.log(`${name}: ${a.length} rows, largest difference ${d.toExponential(2)}`);
}

function softmax(r) {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((x, y) => x + y, 0);
  return e.map((v) => v / s);
}

// fhetune_ops.onnx against PyTorch's outputs of ops.onnx (softmax applied, which the
// importer dropped).
const ops = JSON.parse(fs.readFileSync(path.join(dir, "ops.logits.json")));
const got = await run("fhetune_ops.onnx", [1, 2, 8, 8], ops.inputs);
compare("fhetune_ops.onnx vs PyTorch", got.map(softmax), ops.logits);

// fhetune_cnn.onnx against fhetune's forward pass on digits.npz rows.
for (const arg of process.argv.slice(2)) {
  const p = JSON.parse(fs.readFileSync(arg));
  const npz = readNpzX(path.join(dir, "digits.npz"));
  const rows = p.rows.map((r) => npz[r.index]);
  // Image networks take [1, 1, 8, 8], the MLPs [1, 64].
  let res;
  try {
    res = await run(path.basename(p.model_file), [1, 64], rows);
  } catch {
    res = await run(path.basename(p.model_file), [1, 1, 8, 8], rows);
  }
  compare(`${path.basename(p.model_file)} vs fhetune`, res, p.rows.map((r) => r.logits));
}
process.exit(worst > 1e-4 ? 1 : 0);

// readNpzX returns the rows of the uint8 array x of an uncompressed npz (as gen.py writes).
function readNpzX(file) {
  const buf = fs.readFileSync(file);
  let off = 0;
  while (off < buf.length && buf.readUInt32LE(off) === 0x04034b50) {
    const nameLen = buf.readUInt16LE(off + 26), extra = buf.readUInt16LE(off + 28);
    const size = buf.readUInt32LE(off + 18);
    const name = buf.toString("latin1", off + 30, off + 30 + nameLen);
    const data = buf.subarray(off + 30 + nameLen + extra, off + 30 + nameLen + extra + size);
    if (name === "x.npy") {
      const hlen = data.readUInt16LE(8);
      const body = data.subarray(10 + hlen);
      const rows = [];
      for (let i = 0; i < body.length / 64; i++) rows.push(Array.from(body.subarray(64 * i, 64 * i + 64)));
      return rows;
    }
    off += 30 + nameLen + extra + size;
  }
  throw new Error("no x.npy in " + file);
}
