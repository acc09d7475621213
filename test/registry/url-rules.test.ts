import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../src/common/errors.ts';
import {
  credentialUrlProblem,
  inSetting,
  shownUrl,
  urlRefusal,
  validateHttpUrl,
  validateMetadataUrl,
  validateMirrorEndpointUrl,
  validateMirrorUrl,
  validateRegistryApiUrl,
  validateServerUrl,
  validateUpstreamUrl,
} from '../../src/registry/url-rules.ts';

// What a validator threw: its code and message.
function refusal(check: () => unknown): { code: string; message: string } {
  try {
    check();
  } catch (error) {
    if (!isCodedError(error)) throw error;
    return { code: error.code, message: error.message };
  }
  throw new Error('accepted');
}

interface Kind {
  name: string;
  validate: (raw: string) => unknown;
  code: string;
  what: string;
  // [input, the normalised form]
  accepts: [string, unknown][];
  // [input, the why (and what to do) after `invalid <what> "<shown>": `]
  refuses: [string, RegExp][];
  // A host[:port] the kind accepts, to build URLs with credentials around.
  host: string;
  scheme: 'https' | 'http';
}

const KINDS: Kind[] = [
  {
    name: 'mirror',
    validate: validateMirrorUrl,
    code: 'mirror_invalid',
    what: 'mirror URL',
    host: 'mirror.example',
    scheme: 'https',
    accepts: [
      ['https://mirror.example/', 'https://mirror.example'],
      [' https://Mirror.Example:443/path// ', 'https://mirror.example/path'],
      ['http://127.0.0.1:5000', 'http://127.0.0.1:5000'],
      ['http://mirror.example:5000', 'http://mirror.example:5000'],
    ],
    refuses: [
      ['mirror.example', /^a scheme is required; use https:\/\//],
      ['https:mirror.example', /^a scheme is required/],
      ['https://', /^it is not a URL; use /],
      ['ftp://mirror.example', /^scheme ftp:\/\/ is not allowed; use https:\/\//],
      ['https://user:pw@mirror.example', /^credentials in the URL are not allowed; remove them \(the helper supplies/],
      ['https://mirror.example/?a=1', /^a query or fragment is not allowed; remove/],
      ['https://mirror.example/?', /^a query or fragment is not allowed/],
      ['https://mirror.example/#x', /^a query or fragment is not allowed/],
    ],
  },
  {
    name: 'upstream',
    validate: validateUpstreamUrl,
    code: 'upstream_invalid',
    what: 'upstream URL',
    host: 'harbor.example',
    scheme: 'https',
    accepts: [
      [
        'https://harbor.example/dockerhub-proxy/',
        {
          url: 'https://harbor.example/dockerhub-proxy',
          origin: 'https://harbor.example',
          prefix: 'dockerhub-proxy',
          host: 'harbor.example',
        },
      ],
      [
        'http://127.0.0.1:5000',
        { url: 'http://127.0.0.1:5000', origin: 'http://127.0.0.1:5000', prefix: '', host: '127.0.0.1:5000' },
      ],
      [
        'https:harbor.example',
        { url: 'https://harbor.example', origin: 'https://harbor.example', prefix: '', host: 'harbor.example' },
      ],
    ],
    refuses: [
      ['harbor.example', /^it is not a URL; use https:\/\//],
      ['ftp://harbor.example', /^scheme ftp:\/\/ is not allowed/],
      ['user:pw@harbor.example', /^it is not an http\(s\) URL; use /],
      ['https://u:p@harbor.example', /^credentials in the URL are not allowed; remove them \(the endpoint fetches/],
      ['https://harbor.example?x=1', /^a query or fragment is not allowed/],
      ['http://harbor.example', /^plain http:\/\/ would send the registry credential in clear text; use https:\/\//],
      ['http://a.localhost:5000', /^plain http:\/\/ would send/],
      ['https://harbor.example/Proxy', /^the path is not a repository namespace \(a repository name is lower-case/],
    ],
  },
  {
    name: 'registry API',
    validate: validateRegistryApiUrl,
    code: 'config_invalid',
    what: 'registry API URL',
    host: 'registry.example',
    scheme: 'https',
    accepts: [
      ['https://Registry.Example:443/', 'https://registry.example'],
      ['http://127.0.0.1:5000/', 'http://127.0.0.1:5000'],
    ],
    refuses: [
      ['registry.example', /^it is not a URL/],
      ['https://u:p@registry.example', /^credentials in the URL are not allowed; remove them \(the broker/],
      ['https://registry.example/v2/', /^a path is not allowed; give scheme:\/\/host\[:port\] only/],
      ['https://registry.example/?', /^a query or fragment is not allowed/],
      ['http://registry.example', /^plain http:\/\/ would let the network rewrite the token realm/],
    ],
  },
  {
    name: 'dstack server',
    validate: validateServerUrl,
    code: 'server_url_invalid',
    what: 'dstack server URL',
    host: 'dstack.example',
    scheme: 'https',
    accepts: [
      [
        'https://dstack.example/',
        {
          kind: 'tcp',
          protocol: 'https:',
          hostname: 'dstack.example',
          port: 443,
          basePath: '',
          display: 'https://dstack.example',
        },
      ],
      [
        'http://[::1]:8080/base/',
        {
          kind: 'tcp',
          protocol: 'http:',
          hostname: '::1',
          port: 8080,
          basePath: '/base',
          display: 'http://[::1]:8080/base',
        },
      ],
      ['unix:///run/d.sock', { kind: 'unix', socketPath: '/run/d.sock', basePath: '', display: 'unix:/run/d.sock' }],
    ],
    refuses: [
      ['not a url', /^it is not a URL; use https:\/\/host\[:port\]\[\/base\], http:\/\/127\.0\.0\.1:port or unix:/],
      ['unix:relative.sock', /^a unix socket needs an absolute path; use e\.g\. unix:\//],
      ['ftp://dstack.example', /^scheme ftp:\/\/ is not allowed/],
      ['https://u:p@dstack.example', /^credentials in the URL are not allowed; remove them \(the instance token file/],
      ['https://dstack.example/?', /^a query or fragment is not allowed/],
      ['http://dstack.example', /^plain http:\/\/ would send the instance token in clear text; use https:\/\//],
    ],
  },
  {
    name: 'http(s) setting',
    validate: validateHttpUrl,
    code: 'config_invalid',
    what: 'URL',
    host: 'keys.example',
    scheme: 'https',
    accepts: [
      ['https://keys.example/openid/v1/jwks/', 'https://keys.example/openid/v1/jwks'],
      [' HTTP://Keys.Example/a?x=1 ', 'HTTP://Keys.Example/a?x=1'],
      ['http://keys.example:8080', 'http://keys.example:8080'],
      ['https://keys.example/a?email=me@keys.example', 'https://keys.example/a?email=me@keys.example'],
    ],
    refuses: [
      ['keys.example', /^it is not a URL; use https:\/\//],
      ['https://u:p@', /^it is not a URL/],
      ['ftp://keys.example', /^scheme ftp:\/\/ is not allowed/],
      ['https://u:p@keys.example', /^credentials in the URL are not allowed; remove them/],
    ],
  },
  {
    name: 'mirror endpoint',
    validate: (raw) => validateMirrorEndpointUrl(raw, 'http://127.0.0.1:8484'),
    code: 'usage',
    what: 'mirror endpoint URL',
    host: '127.0.0.1:8484',
    scheme: 'http',
    accepts: [
      ['127.0.0.1:8484', 'http://127.0.0.1:8484'],
      ['http://[::1]:9000/', 'http://[::1]:9000'],
    ],
    refuses: [
      [
        'https://127.0.0.1:8484',
        /^scheme https:\/\/ is not allowed; use http:\/\/127\.0\.0\.1:8484 \(the endpoint serves plain http/,
      ],
      ['http://10.0.0.5:8484', /^the engines reach the endpoint on this host; use a loopback address/],
      ['http://127.0.0.1', /^the port is missing; name it, e\.g\. http:\/\/127\.0\.0\.1:8484/],
      ['http://127.0.0.1:8484/v2', /^a path is not allowed \(the engines ask the endpoint for \/v2\/…\); use/],
      ['http://u:p@127.0.0.1:8484', /^credentials in the URL are not allowed/],
      ['http://127.0.0.1:8484/?', /^a query or fragment is not allowed/],
    ],
  },
  {
    name: 'metadata service',
    validate: (raw) => validateMetadataUrl(raw).href,
    code: 'config_invalid',
    what: 'metadata service URL',
    host: '169.254.169.254',
    scheme: 'http',
    accepts: [
      ['http://169.254.169.254', 'http://169.254.169.254/'],
      ['http://127.0.0.1:9', 'http://127.0.0.1:9/'],
    ],
    refuses: [
      ['169.254.169.254', /^it is not a URL; use http:\/\/169\.254\.169\.254/],
      ['https://169.254.169.254', /^scheme https:\/\/ is not allowed/],
      ['http://u:p@169.254.169.254', /^credentials in the URL are not allowed/],
    ],
  },
];

// The one style: `invalid <what> "<shown>": <why>; <what to do>`, one line.
const STYLE = /^invalid ([A-Za-z ]*URL) "([^"\n]*)": ([^;\n]+); ([^\n]+)$/;

// Passwords that the parser misreads: with '/' (ends the authority early: host `user`, port
// 1234, the rest a path), with '@' (user info runs to the last '@'), with ':' and '?'.
const PASSWORDS = ['S3cr/et', 'S3cr@et', '1234/S3cret', 'S3c:r?et', 'S3cr#et'];

for (const kind of KINDS) {
  describe(`the ${kind.name} URL`, () => {
    it.each(kind.accepts)('accepts %s', (input, normalised) => {
      expect(kind.validate(input)).toEqual(normalised);
    });

    it.each(kind.refuses)('refuses %s with its code, in the one style', (input, why) => {
      const { code, message } = refusal(() => kind.validate(input));
      expect(code).toBe(kind.code);
      const match = STYLE.exec(message);
      expect(match, message).not.toBeNull();
      expect(match![1]).toBe(kind.what);
      expect(match![2]).toBe(shownUrl(input));
      expect(message.slice(`invalid ${kind.what} "${match![2]}": `.length)).toMatch(why);
    });

    it.each(PASSWORDS)('never shows the password %s, nor the user', (password) => {
      for (const input of [
        `${kind.scheme}://someone:${password}@${kind.host}`,
        `${kind.scheme}://someone:${password}@${kind.host}/ns`,
        `${kind.scheme}://someone:${password}@@${kind.host}`,
        `someone:${password}@${kind.host}`,
        `ftp://someone:${password}@${kind.host}`,
      ]) {
        const { code, message } = refusal(() => kind.validate(input));
        expect(code).toBe(kind.code);
        expect(message, input).toMatch(STYLE);
        expect(message, input).not.toMatch(/S3c|someone/);
        expect(message, input).toContain('***@');
      }
    });
  });
}

describe('the URL rules, all kinds', () => {
  it('bound and clean what they show', () => {
    const { message } = refusal(() => validateMirrorUrl(`https://m.example/${'a'.repeat(500)}\u001b[31m?x`));
    expect(message).toMatch(STYLE);
    expect(message).not.toContain('\u001b');
    expect(message.length).toBeLessThan(300);
  });

  it('refuse a kind’s own option in the same style (urlRefusal)', () => {
    const error = urlRefusal('upstream', 'https://u:pw@h.example', 'its realm is bad; list a host');
    expect(error.code).toBe('upstream_invalid');
    expect(error.message).toBe('invalid upstream URL "https://***@h.example": its realm is bad; list a host');
  });

  it('attach a setting’s name one way (inSetting), under the setting’s code', () => {
    const { code, message } = refusal(() => inSetting('DSTACK_REGISTRY_AUTH_X', () => validateMirrorUrl('m.example')));
    expect(code).toBe('config_invalid');
    expect(message).toMatch(/^DSTACK_REGISTRY_AUTH_X: invalid mirror URL "m\.example": a scheme is required; use /);
    const usage = refusal(() => inSetting('--mirror-endpoint', () => validateMirrorEndpointUrl('http://x:1'), 'usage'));
    expect(usage.code).toBe('usage');
    expect(usage.message).toMatch(/^--mirror-endpoint: invalid mirror endpoint URL "http:\/\/x:1": /);
    expect(inSetting('S', () => validateMirrorUrl('https://m.example/'))).toBe('https://m.example');
    expect(() =>
      inSetting('S', () => {
        throw new TypeError('not ours');
      }),
    ).toThrow(TypeError);
  });

  it.each([
    ['https://auth.example/token', undefined],
    ['http://127.0.0.1:5000/token', undefined],
    ['http://[::1]/token', undefined],
    ['https://u:p@auth.example/token', 'credentials'],
    ['ftp://auth.example/token', 'not_http'],
    ['http://auth.example/token', 'plain_http'],
    ['http://a.localhost/token', 'plain_http'],
  ])('say whether a credential may be sent to %s', (url, problem) => {
    expect(credentialUrlProblem(new URL(url))).toBe(problem);
  });
});

describe('validateServerUrl on loopback', () => {
  it('takes plain http on IPv4-mapped loopback and refuses it on a name that only looks local', () => {
    expect(validateServerUrl('http://[::ffff:127.0.0.1]:8480')).toMatchObject({
      kind: 'tcp',
      protocol: 'http:',
      port: 8480,
    });
    expect(() => validateServerUrl('http://a.localhost:8480')).toThrow(/instance token in clear text/);
  });
});
