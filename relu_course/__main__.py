from relu_course.cli import main

raise SystemExit(main())
