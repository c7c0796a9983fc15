import { Live } from './live';

// Server-rendered; <Live> renders its initial state here and connects in the browser.
export default function Home() {
  return (
    <main>
      <h1>Next.js and Switchboard</h1>
      <Live channel="chat:lobby" />
    </main>
  );
}
