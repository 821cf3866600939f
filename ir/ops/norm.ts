/** Op definitions: norm (to be written). */
export {};
