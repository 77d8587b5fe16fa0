// Runs xporter --layout transformers.js folders with transformers.js (Node, local files only).
// Usage: node run.mjs JOB.json  -> prints one JSON result per job on stdout.
// A job: {"kind": "embed"|"causal"|"seq2seq", "folder": "/abs/path", "dtype": "fp32"|"q8"|"fp16"|...,
//         "sentences": [...]} or {"input_ids": [[...]], "max_new_tokens": N}.
import fs from "node:fs";
import path from "node:path";
import { env, pipeline, AutoModelForCausalLM, AutoModelForSeq2SeqLM, Tensor } from "@huggingface/transformers";

env.allowRemoteModels = false;

async function run(job) {
  env.localModelPath = path.dirname(job.folder) + "/";
  const id = path.basename(job.folder);
  if (job.kind === "embed") {
    const extractor = await pipeline("feature-extraction", id, { dtype: job.dtype, local_files_only: true });
    const output = await extractor(job.sentences, { pooling: "mean", normalize: true });
    return { embeddings: output.tolist() };
  }
  const Model = job.kind === "causal" ? AutoModelForCausalLM : AutoModelForSeq2SeqLM;
  const model = await Model.from_pretrained(id, { dtype: job.dtype, local_files_only: true });
  const ids = job.input_ids;
  const inputs = new Tensor("int64", BigInt64Array.from(ids.flat().map(BigInt)), [ids.length, ids[0].length]);
  const feed = { inputs, max_new_tokens: job.max_new_tokens, do_sample: false };
  // No tokenizer in the tiny test models: the mask a tokenizer would give (all ones).
  feed.attention_mask = new Tensor("int64", BigInt64Array.from(ids.flat().map(() => 1n)), [ids.length, ids[0].length]);
  const out = await model.generate(feed);
  return { tokens: out.tolist().map((row) => row.map(Number)) };
}

const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = [];
for (const job of jobs) results.push(await run(job));
process.stdout.write(JSON.stringify(results) + "\n");
