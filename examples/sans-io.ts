// The protocol core without any I/O: feed bytes, get events; call methods, get bytes.
// Run: npx tsx examples/sans-io.ts
import { Connection, encodeFrameToBuffer, Opcode } from 'switchboard/protocol';

const written: Buffer[] = [];
const server = new Connection(
  { role: 'server', maxMessageSize: 64 * 1024 },
  {
    write: (bytes) => written.push(Buffer.from(bytes)),
    end: () => console.log('transport should close now'),
    message: (data, binary) => {
      console.log('message:', binary ? data : data.toString());
      server.sendText(`echo: ${data.toString()}`);
    },
    closeFrame: (code, reason) => console.log('peer closed:', code, reason),
    violation: (error) => console.log('violation:', error.code, '→ close', error.closeCode),
  },
);

// A masked text frame, as a client sends it (the RFC 6455 §5.7 example), in two chunks.
const frame = encodeFrameToBuffer(Opcode.TEXT, Buffer.from('Hello'), { maskKey: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) });
server.receiveData(frame.subarray(0, 3));
server.receiveData(frame.subarray(3));
console.log('bytes to send:', Buffer.concat(written).toString('hex'));

// An unmasked frame from a client is a protocol error: a 1002 close frame goes out.
written.length = 0;
server.receiveData(Buffer.from('810548656c6c6f', 'hex'));
console.log('bytes to send:', Buffer.concat(written).toString('hex'));
