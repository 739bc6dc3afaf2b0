/**
 * Redaction of environment variables before they go into a run record (records get committed and shared).
 *
 * Rule 1, by name. The name is split into words at `_`, `-`, `.` and lower→upper camelCase boundaries,
 * trailing digits are dropped from each word, and case is ignored. The value becomes "<redacted>" when a
 * word is, or ends with, one of: TOKEN, SECRET(S), PASSWORD(S), PASSWD, PASSPHRASE, KEY(S), CREDENTIAL(S),
 * AUTH, AUTHORIZATION. "Ends with" catches run-together names: PGPASSWORD, APIKEY, GITHUBTOKEN, OAUTH.
 * A word that only *starts* with a secret word does not count, which avoids the usual false positives:
 * KEYBOARD_LAYOUT, TOKENIZERS_PARALLELISM (Hugging Face), GIT_AUTHOR_NAME, PASSES.
 * The plural TOKENS is deliberately not a secret word: MAX_TOKENS / NUM_TOKENS are hyperparameters worth
 * keeping in a record.
 * Two short words count only as whole words, since many words end in them: PASS (DB_PASS, PASS; not BYPASS
 * or COMPASS) and PWD after another word (MYSQL_PWD, DB_PWD). PWD alone, and OLDPWD, are the shell's working
 * directories and are kept.
 * Known, accepted over-redaction: SSH_AUTH_SOCK (a socket path), words like HOTKEY that end in KEY.
 *
 * Rule 2, by value. Credentials inside URLs (`scheme://user:password@host`) are masked in every value, since
 * DATABASE_URL, PIP_INDEX_URL or HTTPS_PROXY carry them under innocent names. The user part is masked too,
 * because tokens are often passed as the user name (`https://<token>@host`).
 */
import { maskUrlCredentials, REDACTED } from '../core/url-credentials.js';

export { maskUrlCredentials, REDACTED };

const SECRET_WORDS = [
  'TOKEN',
  'SECRET',
  'SECRETS',
  'PASSWORD',
  'PASSWORDS',
  'PASSWD',
  'PASSPHRASE',
  'KEY',
  'KEYS',
  'CREDENTIAL',
  'CREDENTIALS',
  'AUTH',
  'AUTHORIZATION',
];

/** True when an environment variable with this name holds a secret under the naming rule above. */
export function isSecretName(name: string): boolean {
  const words = splitNameWords(name);
  if (words.includes('PASS') || (words.length > 1 && words.at(-1) === 'PWD')) return true;
  return words.some((word) => SECRET_WORDS.some((secret) => word.endsWith(secret)));
}

/** Splits `myApiKey2` / `MY_API-KEY.2` into upper-case words without trailing digits. */
export function splitNameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .map((word) => word.replace(/[0-9]+$/, '').toUpperCase())
    .filter((word) => word.length > 0);
}

/** Returns a copy of `env` with secret values replaced, keys in sorted order. */
export function redactEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    out[name] = isSecretName(name) ? REDACTED : maskUrlCredentials(env[name]!);
  }
  return out;
}
