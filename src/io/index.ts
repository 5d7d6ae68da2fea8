/**
 * @module lmedit/io — checkpoint I/O: safetensors files, sharded checkpoints and Hugging Face hub ids.
 */
export {
  SafetensorsError,
  readSafetensorsHeader,
  loadSafetensors,
  saveSafetensors,
  MAX_HEADER_BYTES,
  READABLE_DTYPES,
  type ReadableDType,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
  type LoadDType,
  type LoadSafetensorsOptions,
  type LoadedSafetensors,
  type SaveSafetensorsOptions,
} from './safetensors.js';
export {
  loadCheckpoint,
  loadShardedSafetensors,
  readShardIndex,
  validateShards,
  SINGLE_FILE,
  INDEX_FILE,
  type ShardIndex,
  type LoadedCheckpoint,
} from './sharded.js';
export {
  resolveModelDir,
  hfHubCacheDir,
  repoFolderName,
  isHubRepoId,
  HubError,
  DEFAULT_ENDPOINT,
  OPTIONAL_FILES,
  type ResolveModelOptions,
} from './hf-hub.js';
