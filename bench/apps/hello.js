// Start-up benchmark: the smallest program, so what is measured is the preload's own cost.
'use strict';
console.log('hello');
