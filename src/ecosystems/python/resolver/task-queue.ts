/** Fetching ahead: guesses run at most `limit` at a time, and their failures are dropped. */
export class TaskQueue {
  private active = 0;
  private readonly queue: (() => Promise<void>)[] = [];

  constructor(private readonly limit: number) {}

  schedule(task: () => Promise<void>): void {
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.limit && this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.active += 1;
      // Fetching ahead is a guess: its failures are dropped here and reported by the real request, which
      // asks again (the index client does not remember failures).
      void task()
        .catch(() => undefined)
        .finally(() => {
          this.active -= 1;
          this.pump();
        });
    }
  }
}
