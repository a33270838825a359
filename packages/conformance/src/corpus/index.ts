export { buildCorpus, readCorpus, CORPUS_MANIFEST } from "./build-corpus.js";
export type {
  BuildCorpusOptions,
  CorpusImage,
  CorpusOrigin,
  CorpusProfile,
  DifferentialOracle,
  ReferenceContents,
  ReferenceOracle,
} from "./corpus-image.js";
