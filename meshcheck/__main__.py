from meshcheck.cli import main

raise SystemExit(main())
