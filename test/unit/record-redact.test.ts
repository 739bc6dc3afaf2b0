import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSecretName, maskUrlCredentials, redactEnv, REDACTED, splitNameWords } from '../../src/record/redact.js';

describe('isSecretName', () => {
  const secret = [
    'GITHUB_TOKEN',
    'HF_TOKEN',
    'HUGGING_FACE_HUB_TOKEN',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_ACCESS_KEY_ID',
    'WANDB_API_KEY',
    'OPENAI_APIKEY',
    'api_key',
    'apiKey',
    'githubToken',
    'DB_PASSWORD',
    'PGPASSWORD',
    'MYSQL_ROOT_PASSWORD',
    'FTP_PASSWD',
    'GPG_PASSPHRASE',
    'SECRET_KEY_BASE',
    'DJANGO_SECRET',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'AZURE_CREDENTIAL',
    'NPM_CONFIG__AUTH',
    'OAUTH_CLIENT_ID',
    'HTTP_AUTHORIZATION',
    'API_KEYS',
    'Api-Key',
    'my.secret.value',
    'API_KEY_2',
    'TOKEN',
    // issue 14 item 8: short secret words
    'PASS',
    'DB_PASS',
    'smtp_pass',
    'MYSQL_PWD',
    'DB_PWD',
    'GOOGLE_CREDENTIALS',
    'NPM_AUTH',
  ];
  const notSecret = [
    'KEYBOARD_LAYOUT',
    'TOKENIZERS_PARALLELISM',
    'MAX_TOKENS',
    'NUM_TOKENS',
    'GIT_AUTHOR_NAME',
    'GIT_AUTHOR_EMAIL',
    'PWD',
    'OLDPWD',
    'PYTHONHASHSEED',
    'CUDA_VISIBLE_DEVICES',
    'CUBLAS_WORKSPACE_CONFIG',
    'OMP_NUM_THREADS',
    'PATH',
    'HOME',
    'LANG',
    'NUM_PASSES',
    'KEYRING_PROVIDER',
    'SECRETARY_NAME',
    'BYPASS_CACHE',
    'COMPASS_HEADING',
    'PASSES',
  ];
  for (const name of secret) it(`treats ${name} as secret`, () => assert.equal(isSecretName(name), true));
  for (const name of notSecret) it(`keeps ${name}`, () => assert.equal(isSecretName(name), false));
});

describe('splitNameWords', () => {
  it('splits at separators and camelCase, drops trailing digits', () => {
    assert.deepEqual(splitNameWords('myApiKey2'), ['MY', 'API', 'KEY']);
    assert.deepEqual(splitNameWords('AWS_SECRET-access.key'), ['AWS', 'SECRET', 'ACCESS', 'KEY']);
    assert.deepEqual(splitNameWords('OAuthToken'), ['OAUTH', 'TOKEN']);
  });
});

describe('maskUrlCredentials', () => {
  const cases: [string, string][] = [
    ['postgres://user:pa55@db.internal:5432/app', 'postgres://<redacted>@db.internal:5432/app'],
    ['https://ghp_abc@github.com/org/repo.git', 'https://<redacted>@github.com/org/repo.git'],
    ['https://u:p@ss@proxy:3128', 'https://<redacted>@proxy:3128'],
    [
      '--index-url https://a:b@x/simple --extra-index-url https://c:d@y/simple',
      '--index-url https://<redacted>@x/simple --extra-index-url https://<redacted>@y/simple',
    ],
    ['https://pypi.org/simple', 'https://pypi.org/simple'],
    ['mailto:me@example.com', 'mailto:me@example.com'],
    ['git fetch ssh://git@127.0.0.1:9/x.git failed', 'git fetch ssh://git@127.0.0.1:9/x.git failed'],
    ['git+ssh://deploy@git.example/org/x.git@v1', 'git+ssh://deploy@git.example/org/x.git@v1'],
    ['ssh://git:secret@git.example/x.git', 'ssh://<redacted>@git.example/x.git'],
    ['ssh://a@b@git.example/x.git', 'ssh://<redacted>@git.example/x.git'],
    ['https://example.com/path?email=a@b.c', 'https://example.com/path?email=a@b.c'],
  ];
  for (const [input, expected] of cases) it(`masks ${input}`, () => assert.equal(maskUrlCredentials(input), expected));
});

describe('redactEnv', () => {
  it('redacts by name, masks URL credentials in other values, sorts names', () => {
    const out = redactEnv({
      WANDB_API_KEY: 'k-123',
      TOKENIZERS_PARALLELISM: 'false',
      DATABASE_URL: 'postgres://app:hunter2@db/app',
      B: '2',
      A: '1',
    });
    assert.deepEqual(Object.keys(out), ['A', 'B', 'DATABASE_URL', 'TOKENIZERS_PARALLELISM', 'WANDB_API_KEY']);
    assert.equal(out.WANDB_API_KEY, REDACTED);
    assert.equal(out.TOKENIZERS_PARALLELISM, 'false');
    assert.equal(out.DATABASE_URL, 'postgres://<redacted>@db/app');
    assert.equal(out.A, '1');
  });

  it('does not modify its argument', () => {
    const env = { HF_TOKEN: 'x' };
    redactEnv(env);
    assert.deepEqual(env, { HF_TOKEN: 'x' });
  });
});
