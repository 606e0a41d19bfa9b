@echo off
rem service.cmd stop^|start NAME: stops or starts the Windows service NAME
rem with sc.exe and waits, three minutes at most, until it is STOPPED or
rem RUNNING. Exit code 0 when it is, 1 when it is not, 2 on wrong usage.
setlocal
set "action=%~1"
set "service=%~2"
if /i "%action%"=="stop" (set "want=STOPPED") else if /i "%action%"=="start" (set "want=RUNNING") else goto usage
if "%service%"=="" goto usage

sc.exe query "%service%" | find "%want%" >nul
if not errorlevel 1 exit /b 0
sc.exe %action% "%service%" >nul
if errorlevel 1 (
  echo sc.exe %action% "%service%" failed: 1>&2
  sc.exe query "%service%" 1>&2
  exit /b 1
)
for /l %%i in (1,1,90) do (
  sc.exe query "%service%" | find "%want%" >nul
  if not errorlevel 1 exit /b 0
  rem Two seconds: timeout.exe refuses to run without a console input.
  ping -n 3 127.0.0.1 >nul
)
echo service "%service%" is not %want% after three minutes 1>&2
sc.exe query "%service%" 1>&2
exit /b 1

:usage
echo usage: service.cmd stop^|start NAME 1>&2
exit /b 2
