/** Op definitions: linear (to be written). */
export {};
