// Placeholder: the history script.
"use strict";
