/** Op definitions: shape (to be written). */
export {};
