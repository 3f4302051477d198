"""Run the demo: simulator → tap → target (embedded ClickHouse) → a summary from the tables."""

from demo.run import main

raise SystemExit(main())
