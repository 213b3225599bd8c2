// Placeholder: the wallboard script.
"use strict";
