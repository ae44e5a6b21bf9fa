import { MOBILENET_V2 } from '../core/models/user-spec';

/** MobileNet v2's size and source note, shown before the user agrees to the download (src/core/models/user-spec.ts, TensorFlow-free). */
export const MOBILENET_NOTE: string = MOBILENET_V2.note;
