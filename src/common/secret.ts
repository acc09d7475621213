const REDACTED = '[redacted]';

// A value that cannot leak by accident: printing, logging or JSON-encoding it shows
// "[redacted]". Only reveal() gives the text, and only the protocol answer calls it.
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get length(): number {
    return this.#value.length;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
