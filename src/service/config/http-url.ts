import { CodedError, isCodedError } from '../../common/errors.ts';
import { validateMirrorUrl } from '../../registry/mirror-url.ts';
import { printable } from '../../common/printable.ts';
import { redactUrl } from '../../common/redact-url.ts';

// An http(s) URL setting (mirror URL, public URL) without user info, trailing slashes dropped.
export function checkHttpUrl(value: string, settingName: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CodedError(
      'config_invalid',
      `${settingName}: "${printable(redactUrl(value))}" is not a URL; use https://host[:port]`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new CodedError('config_invalid', `${settingName}: use an http:// or https:// URL`);
  if (url.username || url.password)
    throw new CodedError('config_invalid', `${settingName}: credentials in the URL are not allowed`);
  return value.replace(/\/+$/, '');
}

// A mirror URL setting: the hosts' configure applies validateMirrorUrl to what host-config
// sends, so the service refuses at start-up, in one line, any mirror no host could use.
export function checkMirrorUrl(value: string, settingName: string): string {
  try {
    return validateMirrorUrl(value);
  } catch (error) {
    if (isCodedError(error)) throw new CodedError('config_invalid', `${settingName}: ${error.message}`);
    throw error;
  }
}
