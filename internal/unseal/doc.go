// Package unseal brings a region's unseal secret from where its custodians
// keep it, beyond the passphrase in an environment variable or a file:
//
//   - Shamir shares: [Split] cuts the secret into N shares of which any M
//     give it back ([Combiner]); fewer than M tell nothing about it. A share
//     is one line of text that names its format version, its threshold and
//     its number, and ends with a checksum, so that a mistyped or corrupted
//     share is named before anything is combined ([ParseShare]).
//   - A PKCS#11 token (an HSM): the secret is kept wrapped (AES-GCM) by a
//     key that never leaves the token ([OpenHSM], [HSM.Wrap], [HSM.Unwrap]);
//     the token is named by a pkcs11: URI ([ParsePKCS11URI]).
//
// Either way the secret ends as the same bytes that DOMICILE_UNSEAL_<REGION>
// or --unseal-file would have given, and goes to the keyring unchanged.
// Nothing here writes the secret to disk, logs it or puts it in an error.
//
// The field arithmetic of the sharing is cloudflare/circl's secretsharing
// over the Ristretto255 scalar field; the PKCS#11 calls are
// ThalesGroup/crypto11's. This package only chooses, encodes and checks.
package unseal
