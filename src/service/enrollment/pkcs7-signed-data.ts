import { createHash, verify, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnSerializer, OctetString } from '@peculiar/asn1-schema';
import { fromBER, OctetString as BerOctetString, Set as AsnSet } from 'asn1js';
import { ContentInfo, SignedData, id_data, id_signedData } from '@peculiar/asn1-cms';
import { CodedError } from '../../common/errors.ts';

const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

// What a PKCS#7 SignedData with attached content says, before any key is trusted: the
// content it carries and the one signer's signature over its signed attributes.
export interface SignedContent {
  content: Buffer;
  digest: string;
  // What the signer's key signed: the DER SET OF the signed attributes, or the content itself
  // when the signer sent none (RFC 5652 5.4; Windows signers may).
  signedBytes: Buffer;
  signature: Buffer;
  // The certificates the message carries (DER), for a chain to an anchor (Azure).
  certificates: Buffer[];
}

// Parses SignedData (BER as AWS sends it, or DER) with the CMS library, never by hand:
// exactly one signer, a digest we accept, and with signed attributes (`requireAttributes`, as
// AWS always sends them) the message digest attribute equal to the content's hash. Which key
// may have signed is the caller's question.
export function parseSignedContent(
  der: Buffer,
  what: string,
  options: { requireAttributes: boolean } = { requireAttributes: true },
): SignedContent {
  const bad = (why: string) => new CodedError('forbidden', `${what} rejected: ${why}`);
  let signed: SignedData;
  try {
    const info = AsnConvert.parse(der, ContentInfo);
    if (info.contentType !== id_signedData) throw bad('not a PKCS#7 SignedData');
    signed = AsnConvert.parse(info.content, SignedData);
  } catch (error) {
    if (error instanceof CodedError) throw error;
    throw bad('not a readable PKCS#7 SignedData');
  }
  if (signed.encapContentInfo.eContentType !== id_data) throw bad('the signed content is not plain data');
  const content = contentBytes(signed.encapContentInfo.eContent);
  if (!content) throw bad('the signature carries no content (detached)');
  if (signed.signerInfos.length !== 1) throw bad(`${signed.signerInfos.length} signers, expected exactly one`);
  const signer = signed.signerInfos[0]!;
  const digest = DIGESTS[signer.digestAlgorithm.algorithm];
  if (!digest) throw bad(`digest ${signer.digestAlgorithm.algorithm} is not SHA-2`);
  const signature = Buffer.from(signer.signature.buffer);
  const certificates = (signed.certificates ?? []).flatMap((choice) =>
    choice.certificate ? [Buffer.from(AsnConvert.serialize(choice.certificate))] : [],
  );
  if (!signer.signedAttrs || signer.signedAttrs.length === 0) {
    if (options.requireAttributes) throw bad('no signed attributes');
    return { content, digest, signedBytes: content, signature, certificates };
  }
  const attribute = (type: string) => signer.signedAttrs!.filter((a) => a.attrType === type);
  const digests = attribute(ID_MESSAGE_DIGEST);
  if (digests.length !== 1 || digests[0]!.attrValues.length !== 1) throw bad('no single message digest attribute');
  const messageDigest = Buffer.from(AsnConvert.parse(digests[0]!.attrValues[0]!, OctetString).buffer);
  if (!messageDigest.equals(createHash(digest).update(content).digest()))
    throw bad('the message digest does not match the content');
  const types = attribute(ID_CONTENT_TYPE);
  if (types.length !== 1) throw bad('no content type attribute');
  // The signature covers the attributes as a SET OF, not as the [0] they are sent in; each
  // attribute re-encodes to its own bytes (values are kept raw), in the order received.
  const signedBytes = Buffer.from(
    new AsnSet({ value: signer.signedAttrs.map((a) => AsnSerializer.toASN(a)) }).toBER(false),
  );
  return { content, digest, signedBytes, signature, certificates };
}

// RSA PKCS#1 v1.5 or ECDSA, as the key's type says.
export function signedBy(signed: SignedContent, key: KeyObject): boolean {
  try {
    return verify(signed.digest, signed.signedBytes, key, signed.signature);
  } catch {
    return false;
  }
}

function contentBytes(content: { single?: OctetString; any?: ArrayBuffer } | undefined): Buffer | undefined {
  if (!content) return undefined;
  if (content.single) return Buffer.from(content.single.buffer);
  // A constructed (chunked BER) OCTET STRING, as AWS sends it: the schema hands the raw
  // encoding, and asn1js joins the chunks.
  if (content.any) {
    const parsed = fromBER(content.any).result;
    if (parsed instanceof BerOctetString) return Buffer.from(parsed.getValue());
  }
  return undefined;
}
