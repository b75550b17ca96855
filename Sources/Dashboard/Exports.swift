// The canvas, its styles and the keys are the dashboard's vocabulary: whoever imports Dashboard has them,
// as before they moved into their own module (which the terminal backend uses without the dashboard).
@_exported public import TerminalCanvas
