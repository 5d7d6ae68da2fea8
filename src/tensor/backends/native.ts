// TEMPORARY STUB (lead): replaced by the native backend author's real file.
import type { Backend } from '../backend.js';
export function loadNativeBackend(): Backend | null { return null; }
export function nativeLoadError(): string | null { return 'stub'; }
