// The few parts of `pg` the PostgreSQL revocation store (and its test helper) use (the package ships no types,
// and @types/pg is not a dependency).
declare module 'pg' {
  export interface QueryResult {
    rows: Array<Record<string, unknown>>;
  }
  export interface PoolConfig {
    connectionString?: string;
    connectionTimeoutMillis?: number;
    query_timeout?: number;
    idleTimeoutMillis?: number;
    max?: number;
  }
  export class Pool {
    constructor(config?: PoolConfig);
    query(text: string, values?: unknown[]): Promise<QueryResult>;
    connect(): Promise<PoolClient>;
    on(event: 'error', listener: (error: Error) => void): this;
    end(): Promise<void>;
  }
  export interface PoolClient {
    query(text: string, values?: unknown[]): Promise<QueryResult>;
    release(error?: Error): void;
  }
  export class Client {
    constructor(config?: PoolConfig);
    connect(): Promise<void>;
    query(text: string, values?: unknown[]): Promise<QueryResult>;
    on(event: 'error', listener: (error: Error) => void): this;
    end(): Promise<void>;
  }
  const pg: { Pool: typeof Pool; Client: typeof Client };
  export default pg;
}
