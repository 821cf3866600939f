/** Op definitions: lut (to be written). */
export {};
