// Checks signed HLS segment URLs in nginx, so that Python never sees a segment request
// (loaded by nginx.conf; the URLs are made by video/streaming/signing.py, whose format this
// follows: HMAC-SHA256 over "<video>/<rung>/<segment>:<uid>:<exp>", base64url, no padding).
//
// A GET or HEAD of a segment URL with `sig` in its query: a valid, unexpired signature is sent
// from the media volume (/protected-hls/), anything else answers a JSON 403. Without `sig`, the
// request goes to Django, which checks the viewer's credentials.
const crypto = require('crypto');

const SEGMENT = /^\/api\/video\/([1-9][0-9]{0,17})\/([1-9][0-9]{1,3}p)\/([0-9]{3}\.ts)\/?$/;
const DIGITS = /^[0-9]+$/;
const KEY = process.env.HLS_SIGNING_KEY || '';
const FORBIDDEN = JSON.stringify({
    detail: 'This segment link is invalid or has expired. Reload the video to get a fresh one.',
    errors: {},
});

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

function signatureValid(match, args) {
    const exp = args.exp;
    const uid = args.uid;
    const sig = args.sig;
    // A parameter given twice arrives as an array: refused, as in Python.
    if (!KEY || typeof exp !== 'string' || typeof uid !== 'string' || typeof sig !== 'string') {
        return false;
    }
    if (!DIGITS.test(exp) || !DIGITS.test(uid) || Number(exp) <= Date.now() / 1000) {
        return false;
    }
    const message = `${match[1]}/${match[2]}/${match[3]}:${uid}:${exp}`;
    return sameText(crypto.createHmac('sha256', KEY).update(message).digest('base64url'), sig);
}

function segment(r) {
    const match = r.uri.match(SEGMENT);
    if (!match || r.args.sig === undefined || (r.method !== 'GET' && r.method !== 'HEAD')) {
        r.internalRedirect('@videoflix_web');
        return;
    }
    if (!signatureValid(match, r.args)) {
        r.headersOut['Content-Type'] = 'application/json';
        r.headersOut['Vary'] = 'Origin';
        if (r.variables.videoflix_cors_origin) {
            r.headersOut['Access-Control-Allow-Origin'] = r.variables.videoflix_cors_origin;
            r.headersOut['Access-Control-Allow-Credentials'] = 'true';
        }
        r.return(403, FORBIDDEN);
        return;
    }
    r.internalRedirect(`/protected-hls/${match[1]}/${match[2]}/${match[3]}`);
}

export default { segment };
