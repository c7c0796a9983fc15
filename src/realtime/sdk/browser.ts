/** Entry of the browser bundle (dist/browser/switchboard-sdk.js). */
export {};
