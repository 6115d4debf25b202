"""The compiler: source text -> lark tree -> syntax tree -> typed model -> checks."""
