// Runs xporter --layout transformers.js folders with transformers.js (Node, local files only).
// Usage: node run.mjs JOB.json  -> prints one JSON result per job on stdout.
// A job: {"kind": "embed"|"causal"|"seq2seq"|"vlm", "folder": "/abs/path", "dtype": "fp32"|"q8"|"fp16"|...,
//         "sentences": [...]} or {"input_ids": [[...]], "max_new_tokens": N}; "vlm" jobs also carry
//         "pixel_values": {"dims": [...], "data": [...]} (and "pixel_attention_mask" for idefics3/smolvlm).
//         {"kind": "session", "file": "/abs/model.onnx"}: whether transformers.js's own onnxruntime-node
//         creates a session for the graph ({"ok": true} or {"error": "..."}), for what no dtype loads.
import fs from "node:fs";
import path from "node:path";
import { env, pipeline, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForImageTextToText, Tensor }
  from "@huggingface/transformers";
import * as ort from "onnxruntime-node";

env.allowRemoteModels = false;

async function run(job) {
  if (job.kind === "session") {
    try {
      await ort.InferenceSession.create(job.file);
      return { ok: true };
    } catch (error) {
      return { error: String(error.message ?? error).split("\n")[0] };
    }
  }
  env.localModelPath = path.dirname(job.folder) + "/";
  const id = path.basename(job.folder);
  if (job.kind === "embed") {
    const extractor = await pipeline("feature-extraction", id, { dtype: job.dtype, local_files_only: true });
    const output = await extractor(job.sentences, { pooling: "mean", normalize: true });
    return { embeddings: output.tolist() };
  }
  const Model = { causal: AutoModelForCausalLM, seq2seq: AutoModelForSeq2SeqLM, vlm: AutoModelForImageTextToText }[job.kind];
  const model = await Model.from_pretrained(id, { dtype: job.dtype, local_files_only: true });
  const ids = job.input_ids;
  const inputs = new Tensor("int64", BigInt64Array.from(ids.flat().map(BigInt)), [ids.length, ids[0].length]);
  const feed = { inputs, max_new_tokens: job.max_new_tokens, do_sample: false };
  // No tokenizer in the tiny test models: the mask a tokenizer would give (all ones).
  feed.attention_mask = new Tensor("int64", BigInt64Array.from(ids.flat().map(() => 1n)), [ids.length, ids[0].length]);
  if (job.pixel_values) {
    feed.pixel_values = new Tensor("float32", Float32Array.from(job.pixel_values.data), job.pixel_values.dims);
  }
  if (job.pixel_attention_mask) {
    const mask = job.pixel_attention_mask;
    feed.pixel_attention_mask = new Tensor("bool", Uint8Array.from(mask.data), mask.dims);
  }
  const out = await model.generate(feed);
  return { tokens: out.tolist().map((row) => row.map(Number)) };
}

const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = [];
for (const job of jobs) results.push(await run(job));
process.stdout.write(JSON.stringify(results) + "\n");
