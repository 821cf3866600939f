/** Op definitions: reduce (to be written). */
export {};
