// Bridges Powertools' per-record batch processing to a step that must see the whole batch at
// once (to read and write each entity once). Powertools calls the record handler for every
// record in parallel; each call registers its record here and awaits the verdict for it. When
// the last record has registered, the batch step runs once and each record's promise settles
// with its own outcome, so Powertools still builds the partial-failure response.

export class BatchCollector<R, Id> {
  private readonly waiting = new Map<Id, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly records: R[] = [];

  constructor(
    private readonly expected: number,
    private readonly idOf: (record: R) => Id,
    private readonly step: (records: R[]) => Promise<Map<Id, Error>>,
  ) {}

  submit(record: R): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiting.set(this.idOf(record), { resolve, reject }));
    this.records.push(record);
    if (this.records.length === this.expected) void this.run();
    return done;
  }

  private async run(): Promise<void> {
    let failures: Map<Id, Error>;
    try {
      failures = await this.step(this.records);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const w of this.waiting.values()) w.reject(err);
      return;
    }
    for (const [id, w] of this.waiting) {
      const f = failures.get(id);
      if (f) w.reject(f);
      else w.resolve();
    }
  }
}
