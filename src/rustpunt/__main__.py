from rustpunt.cli import main

raise SystemExit(main())
