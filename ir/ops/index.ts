/**
 * Loads every op definition into the op table. Import this module (for its side effects) before
 * using the printer, parser, verifier, interpreter or passes.
 */
import './elementwise.js';
import './reduce.js';
import './norm.js';
import './shape.js';
import './linear.js';
import './control.js';
import './lut.js';
import './math.js';
import './axis.js';
import './pad.js';
import './scatter.js';
import './attention.js';
