// Checks signed HLS segment URLs in nginx, so that Python never sees a segment request
// (loaded by nginx.conf; the URLs are made by video/streaming/signing.py, whose format this
// follows: HMAC-SHA256 over "<video>/<rung>/<segment>:<uid>:<exp>", base64url, no padding).
//
// videoflix.conf asks `$hls_signature_valid` for every GET or HEAD of a segment URL with `sig` in
// its query: "1" lets nginx send the file, anything else answers a JSON 403.
const crypto = require('crypto');

const DIGITS = /^[0-9]+$/;
const KEY = process.env.HLS_SIGNING_KEY || '';

function sameText(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    let difference = 0;
    for (let i = 0; i < a.length; i++) {
        difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return difference === 0;
}

// "1" when the request's signature holds for its video, rung and segment (the location's named
// captures), else "". A parameter given twice arrives as an array: refused, as in Python.
function signatureValid(r) {
    const args = r.args;
    const exp = args.exp;
    const uid = args.uid;
    const sig = args.sig;
    if (!KEY || typeof exp !== 'string' || typeof uid !== 'string' || typeof sig !== 'string') {
        return '';
    }
    if (!DIGITS.test(exp) || !DIGITS.test(uid) || Number(exp) <= Date.now() / 1000) {
        return '';
    }
    const v = r.variables;
    const message = `${v.hls_video}/${v.hls_rung}/${v.hls_segment}:${uid}:${exp}`;
    const expected = crypto.createHmac('sha256', KEY).update(message).digest('base64url');
    return sameText(expected, sig) ? '1' : '';
}

export default { signatureValid };
