/**
 * Project and extra names: the PEP 508 name syntax and the PEP 503 normalised form used to compare them
 * (https://packaging.python.org/en/latest/specifications/name-normalization/). Extras are compared the
 * same way (PEP 685).
 */

const VALID_NAME = /^(?:[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** Lower-case, with every run of `-`, `_` and `.` turned into one `-`: `Foo__Bar.baz` → `foo-bar-baz`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** Whether `name` is a valid project name: ASCII letters and digits, with `.`, `_`, `-` inside. */
export function isValidName(name: string): boolean {
  return VALID_NAME.test(name);
}
