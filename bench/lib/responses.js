// The two load generators (loadgen.js, soak-load.js) read keep-alive HTTP/1.1 responses off a raw socket:
// this turns the byte stream into one callback per complete response (status code), or a bad-response call
// when a response has no content-length (the bench servers always send one).
'use strict';

const HEADER_END = Buffer.from('\r\n\r\n');

/** A socket 'data' listener calling onResponse(status) per response; onBad() and stops on a bad one. */
function responseReader(onResponse, onBad) {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      const end = buffered.indexOf(HEADER_END);
      if (end === -1) return;
      const head = buffered.toString('latin1', 0, end);
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!match) {
        onBad();
        return;
      }
      const total = end + 4 + Number(match[1]);
      if (buffered.length < total) return;
      buffered = buffered.subarray(total);
      onResponse(Number(head.slice(9, 12)));
    }
  };
}

module.exports = { responseReader };
