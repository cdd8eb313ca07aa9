// Smoke program of the sandbox image: TypeScript runs directly and Bun's own APIs work.
interface Greeting {
  word: 'OK';
}

const greeting: Greeting = { word: 'OK' };
const hash = Bun.hash('buntime');
if (typeof hash !== 'bigint' && typeof hash !== 'number') throw new Error('Bun.hash is broken');
console.log(greeting.word);
