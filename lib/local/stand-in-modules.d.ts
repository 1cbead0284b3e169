// Type declarations for the embedded AWS stand-ins, which ship no types of their own. Only the
// surface the local platform uses is declared; each signature was read from the package source.

declare module 'dynalite' {
  import type { Server } from 'node:http';

  export interface DynaliteOptions {
    /** LevelDB directory; in memory when absent. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
  }

  /** An unstarted http.Server whose close() also closes the store. */
  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module 'kinesalite' {
  import type { Server } from 'node:http';

  export interface KinesaliteOptions {
    /** LevelDB directory; in memory when absent. */
    path?: string;
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }

  /** An unstarted http.Server whose close() also closes the store. */
  export default function kinesalite(options?: KinesaliteOptions): Server;
}

declare module 's3rver' {
  import type { AddressInfo } from 'node:net';

  export interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    /** Bucket and object files live here (s3rver has no in-memory mode). */
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: ReadonlyArray<{ name: string; configs?: ReadonlyArray<string | Buffer> }>;
  }

  export default class S3rver {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
